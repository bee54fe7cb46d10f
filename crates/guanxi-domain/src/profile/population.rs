//! Classes that place a customer among all customers: RFM scores and maps, the value
//! pyramid, and the population figures other classes compare against. Deterministic:
//! ties are broken by customer id.

use serde::{Deserialize, Serialize};

use super::settings::{Basis, Comparison, Threshold};
use super::{Measures, Population, Settings, median};
use crate::Cents;

names! {
    /// Value pyramid tier 客户金字塔 (§3.2).
    pub enum Tier { Vip = "vip", Major = "major", Ordinary = "ordinary", Small = "small" }
}

names! {
    /// The 8-class RFM model common in Chinese e-commerce (§3.7).
    pub enum Rfm8 {
        ImportantValue = "重要价值",
        ImportantDevelop = "重要发展",
        ImportantKeep = "重要保持",
        ImportantRetain = "重要挽留",
        GeneralValue = "一般价值",
        GeneralDevelop = "一般发展",
        GeneralKeep = "一般保持",
        GeneralRetain = "一般挽留",
    }
}

names! {
    /// The 11-segment RFM map (§3.7).
    pub enum Rfm11 {
        Champions = "Champions",
        Loyal = "Loyal",
        PotentialLoyalist = "Potential Loyalist",
        New = "New",
        Promising = "Promising",
        NeedAttention = "Need Attention",
        AboutToSleep = "About to Sleep",
        AtRisk = "At Risk",
        CantLoseThem = "Can't Lose Them",
        Hibernating = "Hibernating",
        Lost = "Lost",
    }
}

impl Rfm8 {
    /// From whether R (recency), F and M are high.
    pub fn from_highs(r: bool, f: bool, m: bool) -> Rfm8 {
        use Rfm8::*;
        match (r, f, m) {
            (true, true, true) => ImportantValue,
            (true, false, true) => ImportantDevelop,
            (false, true, true) => ImportantKeep,
            (false, false, true) => ImportantRetain,
            (true, true, false) => GeneralValue,
            (true, false, false) => GeneralDevelop,
            (false, true, false) => GeneralKeep,
            (false, false, false) => GeneralRetain,
        }
    }

    pub fn english(self) -> &'static str {
        use Rfm8::*;
        match self {
            ImportantValue => "important-value",
            ImportantDevelop => "important-develop",
            ImportantKeep => "important-keep",
            ImportantRetain => "important-retain",
            GeneralValue => "general-value",
            GeneralDevelop => "general-develop",
            GeneralKeep => "general-keep",
            GeneralRetain => "general-retain",
        }
    }
}

impl Rfm11 {
    /// docs/domain.md §3.7's grid: R score (rows 5..1) × FM score (columns 1..5).
    pub fn from_scores(r: u8, fm: u8) -> Rfm11 {
        use Rfm11::*;
        const GRID: [[Rfm11; 5]; 5] = [
            [New, PotentialLoyalist, PotentialLoyalist, Champions, Champions],
            [Promising, PotentialLoyalist, Loyal, Champions, Champions],
            [AboutToSleep, NeedAttention, NeedAttention, Loyal, Loyal],
            [Hibernating, AboutToSleep, AtRisk, AtRisk, CantLoseThem],
            [Lost, Hibernating, AtRisk, CantLoseThem, CantLoseThem],
        ];
        let row = 5 - usize::from(r.clamp(1, 5));
        let col = usize::from(fm.clamp(1, 5)) - 1;
        GRID[row][col]
    }
}

/// FM = (F + M) / 2 rounded half up.
pub fn fm_score(f: u8, m: u8) -> u8 {
    (f + m).div_ceil(2)
}

/// SQL's NTILE(n) over `keys` ordered ascending (ties by id): bucket sizes differ by at
/// most one, the larger first. Returns each input's bucket (1..=n), in input order.
pub fn ntile<K: PartialOrd + Copy>(keys: &[(i64, K)], n: u32) -> Vec<u8> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| {
        keys[a]
            .1
            .partial_cmp(&keys[b].1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(keys[a].0.cmp(&keys[b].0))
    });
    let len = keys.len();
    let n = n.max(1) as usize;
    let (base, extra) = (len / n, len % n);
    let mut out = vec![0u8; len];
    let mut at = 0;
    for bucket in 0..n {
        let size = base + usize::from(bucket < extra);
        for &i in &order[at..at + size] {
            out[i] = bucket as u8 + 1;
        }
        at += size;
    }
    out
}

/// One buyer's RFM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmScores {
    pub recency_days: i64,
    pub frequency: u32,
    pub monetary: Cents,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub rfm8: Rfm8,
    pub rfm11: Rfm11,
    pub why: String,
}

fn threshold(values: &mut [f64], t: Threshold) -> f64 {
    match t {
        Threshold::Mean => values.iter().sum::<f64>() / values.len().max(1) as f64,
        Threshold::Median => median(values).unwrap_or(0.0),
    }
}

/// RFM for buyers: `(id, measures)` of customers with at least one paid order.
pub fn rfm(buyers: &[(i64, &Measures)], s: &Settings) -> Vec<RfmScores> {
    let monetary = |m: &Measures| match s.rfm.monetary {
        super::settings::Monetary::Amount => m.window_amount,
        super::settings::Monetary::Profit => m.window_profit,
    };
    let raw: Vec<(i64, i64, u32, Cents)> = buyers
        .iter()
        .map(|(id, m)| (*id, m.recency_days.unwrap_or(i64::MAX), m.window_orders, monetary(m)))
        .collect();
    // Most recent = 5: order by days descending, so the fewest days land in bucket 5.
    let r = ntile(&raw.iter().map(|x| (x.0, -x.1)).collect::<Vec<_>>(), 5);
    // F and M are ranked among the buyers who bought in the window; those who did not
    // score 1. Ranked with them, a shop where more than a fifth of the buyers did not
    // buy in the window (most shops) fills buckets 1 and 2 with them, so a recent first
    // buyer scores F ≥ 2 and the map's New and Promising can never occur.
    let in_window: Vec<usize> = (0..raw.len()).filter(|&i| raw[i].2 > 0).collect();
    let scored = |keys: Vec<i64>| {
        let ranked = ntile(&in_window.iter().map(|&i| (raw[i].0, keys[i])).collect::<Vec<_>>(), 5);
        let mut out = vec![1u8; raw.len()];
        for (&i, score) in in_window.iter().zip(ranked) {
            out[i] = score;
        }
        out
    };
    let f = scored(raw.iter().map(|x| i64::from(x.2)).collect());
    let m = scored(raw.iter().map(|x| x.3.0).collect());
    let (rv, fv, mv): (Vec<f64>, Vec<f64>, Vec<f64>) = match s.rfm.basis {
        Basis::Raw => (
            raw.iter().map(|x| x.1 as f64).collect(),
            raw.iter().map(|x| f64::from(x.2)).collect(),
            raw.iter().map(|x| x.3.0 as f64).collect(),
        ),
        Basis::Scores => (
            r.iter().map(|v| f64::from(*v)).collect(),
            f.iter().map(|v| f64::from(*v)).collect(),
            m.iter().map(|v| f64::from(*v)).collect(),
        ),
    };
    let (tr, tf, tm) = (
        threshold(&mut rv.clone(), s.rfm.threshold),
        threshold(&mut fv.clone(), s.rfm.threshold),
        threshold(&mut mv.clone(), s.rfm.threshold),
    );
    let ge = s.rfm.comparison == Comparison::GreaterOrEqual;
    let high = |v: f64, t: f64| if ge { v >= t } else { v > t };
    // Raw recency is "high" when the days are few; scores already point the right way.
    let r_high = |v: f64| match s.rfm.basis {
        Basis::Raw => {
            if ge {
                v <= tr
            } else {
                v < tr
            }
        }
        Basis::Scores => high(v, tr),
    };
    (0..raw.len())
        .map(|i| {
            let (rh, fh, mh) = (r_high(rv[i]), high(fv[i], tf), high(mv[i], tm));
            let rfm8 = Rfm8::from_highs(rh, fh, mh);
            let rfm11 = Rfm11::from_scores(r[i], fm_score(f[i], m[i]));
            let hl = |h: bool| if h { "high" } else { "low" };
            // Raw M is money: show its threshold as money too.
            let tm_text = match s.rfm.basis {
                Basis::Raw => Cents(tm.round() as i64).to_string(),
                Basis::Scores => format!("{tm:.2}"),
            };
            let why = format!(
                "{rfm8} ({}): R {} days is {} against {tr:.2}, F {} is {} against {tf:.2}, M {} is {} against {tm_text} ({:?} of {:?}); {rfm11}: R score {} × FM score {}",
                rfm8.english(),
                raw[i].1,
                hl(rh),
                raw[i].2,
                hl(fh),
                raw[i].3,
                hl(mh),
                s.rfm.threshold,
                s.rfm.basis,
                r[i],
                fm_score(f[i], m[i])
            );
            RfmScores { recency_days: raw[i].1, frequency: raw[i].2, monetary: raw[i].3, r: r[i], f: f[i], m: m[i], rfm8, rfm11, why }
        })
        .collect()
}

/// Each buyer's rank by `value`, 1 for the highest, ties by id (lower id first).
pub fn ranks(values: &[(i64, Cents)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].1.cmp(&values[a].1).then(values[a].0.cmp(&values[b].0)));
    let mut rank = vec![0; values.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r + 1;
    }
    rank
}

/// Pyramid tiers for buyers by `value` (ranked highest first, ties by id): the top
/// `vip_percent` of buyers VIP, the next `major_percent` major, the next
/// `ordinary_percent` ordinary, the rest small. Counts round to the nearest customer.
pub fn pyramid(values: &[(i64, Cents)], s: &Settings) -> Vec<Tier> {
    let n = values.len();
    let p = &s.pyramid;
    let upto = |percent: f64| ((n as f64) * percent / 100.0).round() as usize;
    let vip = upto(p.vip_percent);
    let major = upto(p.vip_percent + p.major_percent);
    let ordinary = upto(p.vip_percent + p.major_percent + p.ordinary_percent);
    ranks(values)
        .into_iter()
        .map(|rank| {
            if rank <= vip {
                Tier::Vip
            } else if rank <= major {
                Tier::Major
            } else if rank <= ordinary {
                Tier::Ordinary
            } else {
                Tier::Small
            }
        })
        .collect()
}

/// The population figures the per-customer classes compare against.
pub fn population(buyers: &[&Measures], s: &Settings) -> Population {
    let mut profits: Vec<f64> = buyers.iter().map(|m| m.profit.0 as f64).collect();
    let median_profit = Cents(median(&mut profits).unwrap_or(0.0).round() as i64);
    let top_profit = percentile(&profits, s.pricing.top_profit_percentile);
    let mut cycles: Vec<f64> = buyers.iter().filter_map(|m| m.cycle_days).collect();
    Population {
        shop_cycle_days: median(&mut cycles),
        median_profit,
        top_profit,
    }
}

/// The value at `pct` percent of sorted `v` (nearest rank).
fn percentile(sorted: &[f64], pct: f64) -> Cents {
    if sorted.is_empty() {
        return Cents::ZERO;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Cents(sorted[rank.min(sorted.len()) - 1].round() as i64)
}
