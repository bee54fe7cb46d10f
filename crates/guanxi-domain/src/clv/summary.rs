//! Summary statistics of repeat purchases, with the conventions of `lifetimes` (and of
//! Fader, Hardie & Lee): purchases in the same period are one; x is the number of
//! periods with a purchase after the first; t_x the time from the first to the last
//! such period; T the time from the first purchase to the end of calibration. Times are
//! in `unit`s, fractional when the unit is longer than the merging period.

use std::collections::HashMap;

use chrono::NaiveDate;

/// A length of time: purchases within one are merged; times are counted in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
}

impl Period {
    pub fn days(self) -> f64 {
        match self {
            Period::Day => 1.0,
            Period::Week => 7.0,
        }
    }
}

/// One customer's repeat-purchase summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rft {
    /// Repeat purchase periods.
    pub x: f64,
    /// Time of the last purchase, since the first.
    pub t_x: f64,
    /// Time from the first purchase to the end of calibration.
    pub t: f64,
}

/// One customer's summary with the mean spend of their repeat purchase periods (the
/// first purchase excluded, as Gamma-Gamma expects; 0 without repeats).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary<K> {
    pub key: K,
    pub rft: Rft,
    pub monetary: f64,
}

/// Customers with the same summary, and how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub rft: Rft,
    pub weight: f64,
}

/// Per customer (in the order of first appearance), the summary of their purchases
/// (date, amount) up to `end` (inclusive); purchases are merged per `merge` period (their
/// amounts summed) and times counted in `unit`s. Customers whose first purchase is after
/// `end` are left out.
pub fn summary<K: std::hash::Hash + Eq + Clone>(
    purchases: impl IntoIterator<Item = (K, NaiveDate, f64)>,
    end: NaiveDate,
    merge: Period,
    unit: Period,
) -> Vec<Summary<K>> {
    let mut order: Vec<K> = Vec::new();
    let mut by_customer: HashMap<K, Vec<(NaiveDate, f64)>> = HashMap::new();
    for (k, d, amount) in purchases.into_iter().filter(|(_, d, _)| *d <= end) {
        let entry = by_customer.entry(k.clone()).or_insert_with(|| {
            order.push(k);
            Vec::new()
        });
        entry.push((d, amount));
    }
    order
        .into_iter()
        .filter_map(|key| {
            let ps = by_customer.remove(&key)?;
            summary_of(key, ps, end, merge, unit)
        })
        .collect()
}

/// One customer's summary from their purchases (date, amount), all up to `end`; `None`
/// without purchases. See [`summary`].
pub fn summary_of<K>(
    key: K,
    mut ps: Vec<(NaiveDate, f64)>,
    end: NaiveDate,
    merge: Period,
    unit: Period,
) -> Option<Summary<K>> {
    let step = merge.days() as i64;
    let scale = merge.days() / unit.days();
    ps.sort_unstable_by_key(|(d, _)| *d);
    let first = ps.first()?.0;
    // Each purchase's period, counted from the first purchase, with its amount.
    let mut periods: Vec<(i64, f64)> = Vec::new();
    for (d, amount) in ps {
        let p = (d - first).num_days() / step;
        match periods.last_mut() {
            Some((last, sum)) if *last == p => *sum += amount,
            _ => periods.push((p, amount)),
        }
    }
    let last = periods.last()?.0;
    let repeats = &periods[1..];
    let monetary = if repeats.is_empty() {
        0.0
    } else {
        repeats.iter().map(|(_, a)| a).sum::<f64>() / repeats.len() as f64
    };
    Some(Summary {
        key,
        rft: Rft {
            x: repeats.len() as f64,
            t_x: last as f64 * scale,
            t: (end - first).num_days() as f64 / unit.days(),
        },
        monetary,
    })
}

/// Repeat purchases in a holdout period: per customer of the calibration summaries, the
/// purchase periods after `calibration_end` up to `holdout_end` (merged per `merge`
/// period as in calibration), in the summaries' order.
pub fn holdout<K: std::hash::Hash + Eq + Clone>(
    calibration: &[Summary<K>],
    purchases: impl IntoIterator<Item = (K, NaiveDate)>,
    calibration_end: NaiveDate,
    holdout_end: NaiveDate,
    merge: Period,
) -> Vec<f64> {
    let step = merge.days() as i64;
    let mut periods: HashMap<K, Vec<i64>> = calibration.iter().map(|c| (c.key.clone(), Vec::new())).collect();
    for (k, d) in purchases {
        if let Some(p) = periods.get_mut(&k).filter(|_| d > calibration_end && d <= holdout_end) {
            p.push((d - calibration_end).num_days().saturating_sub(1) / step);
        }
    }
    calibration
        .iter()
        .map(|c| {
            let mut p = periods.get_mut(&c.key).map(std::mem::take).unwrap_or_default();
            p.sort_unstable();
            p.dedup();
            p.len() as f64
        })
        .collect()
}

/// Distinct summaries with their counts, in a stable order (by x, t_x, T).
pub fn group(rfts: impl IntoIterator<Item = Rft>) -> Vec<Row> {
    let mut counts: HashMap<(u64, u64, u64), Row> = HashMap::new();
    for r in rfts {
        let key = (r.x.to_bits(), r.t_x.to_bits(), r.t.to_bits());
        counts.entry(key).or_insert(Row { rft: r, weight: 0.0 }).weight += 1.0;
    }
    let mut rows: Vec<Row> = counts.into_values().collect();
    rows.sort_unstable_by(|a, b| {
        (a.rft.x, a.rft.t_x, a.rft.t)
            .partial_cmp(&(b.rft.x, b.rft.t_x, b.rft.t))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn same_day_purchases_are_one_and_times_are_in_weeks() {
        let p = vec![
            ("a", d("1997-01-01"), 10.0),
            ("a", d("1997-01-01"), 5.0),
            ("a", d("1997-01-15"), 20.0),
            ("a", d("1997-01-15"), 2.0),
            ("a", d("1997-08-01"), 30.0),
            ("a", d("1997-12-01"), 99.0), // after calibration
            ("b", d("1997-03-01"), 7.0),
            ("c", d("1997-10-01"), 7.0), // first purchase after calibration
        ];
        let s = summary(p, d("1997-09-30"), Period::Day, Period::Week);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].key, "a");
        assert_eq!(s[0].rft.x, 2.0);
        assert!((s[0].rft.t_x - 212.0 / 7.0).abs() < 1e-12);
        assert!((s[0].rft.t - 272.0 / 7.0).abs() < 1e-12);
        assert_eq!(
            s[0].monetary, 26.0,
            "repeat periods' spend (22 and 30), the first excluded"
        );
        assert_eq!((s[1].rft.x, s[1].rft.t_x, s[1].monetary), (0.0, 0.0, 0.0));
        let weekly = summary(
            vec![
                ("a", d("1997-01-01"), 1.0),
                ("a", d("1997-01-03"), 1.0),
                ("a", d("1997-01-09"), 1.0),
            ],
            d("1997-01-31"),
            Period::Week,
            Period::Week,
        );
        assert_eq!((weekly[0].rft.x, weekly[0].rft.t_x), (1.0, 1.0));
        let rows = group(s.iter().map(|c| c.rft).chain([s[1].rft]));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].weight, 2.0);
    }
}
