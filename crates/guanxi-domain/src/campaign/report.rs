//! A campaign's effect, per audience × variant, per audience and in total: each
//! treated arm against its audience's holdout, with the intervals of [`super::effect`]
//! and a verdict the intervals support.

use serde::Serialize;

use super::effect::{self, CONFIDENCE, Estimate, Sign, Srm};
use super::{Assigned, Campaign};

/// One member's outcome, measured the same way whether treated or held out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub audience: usize,
    pub assigned: Assigned,
    /// A message of the campaign reached them (the holdout: never).
    pub delivered: bool,
    pub clicked: bool,
    /// A paid order within the attribution window after their last (or, held out,
    /// would-be) touch.
    pub converted: bool,
    /// Paid in the window, refunds subtracted (cents).
    pub revenue: i64,
    /// Revenue less cost of goods and refunds in the window (cents).
    pub profit: i64,
    /// Their profit in the 365 days before launch (cents): the CUPED covariate.
    pub profit_before: i64,
    /// What reaching them cost: messages and coupons redeemed (cents).
    pub cost: i64,
}

/// One arm's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Arm {
    pub size: u64,
    pub delivered: u64,
    pub clicked: u64,
    pub converted: u64,
    /// Per head, zeros included (cents).
    pub revenue_per_head: f64,
    pub profit_per_head: f64,
    pub cost: i64,
}

/// What the intervals support about a row, in a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Incremental profit less cost is above zero with 95 % confidence.
    Earned,
    /// It is below zero with 95 % confidence: the campaign lost money here.
    LostMoney,
    /// The interval spans zero.
    Inconclusive,
    /// No holdout (or no treated) to compare with: no claim at all.
    NoComparison,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The audience's name; `None` for the campaign in total.
    pub audience: Option<String>,
    /// The variant's name; `None` for all the audience's variants together.
    pub variant: Option<String>,
    /// The wave (1, 2, …) the row measures; `None` for the campaign's waves together.
    pub wave: Option<u32>,
    pub treated: Arm,
    pub control: Arm,
    /// Treated − control conversion rate (Newcombe).
    pub conversion_lift: Option<Estimate>,
    /// Treated ÷ control − 1 (Fieller), only where the control rate is clearly above 0.
    pub relative_lift: Option<Estimate>,
    /// Profit per head, treated − control (cents; winsorised, CUPED, Welch).
    pub profit_lift: Option<Estimate>,
    /// The same without CUPED, to show what the adjustment bought.
    pub profit_lift_unadjusted: Option<Estimate>,
    /// Profit lift × treated (cents).
    pub incremental_profit: Option<Estimate>,
    /// (Incremental profit − cost) / cost, where there was a cost.
    pub roi: Option<Estimate>,
    /// The arms' sizes against the designed split.
    pub srm: Option<Srm>,
    pub verdict: Verdict,
}

/// The report of `campaign` over its members' `outcomes`: for each audience a row per
/// variant (when it has more than one) and a row for all its variants; then a total
/// row — given only when every audience holds out the same share (with different
/// shares, pooling the arms would weigh the audiences differently in each and the
/// comparison would be biased).
pub fn report(campaign: &Campaign, outcomes: &[Outcome]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, a) in campaign.audiences.iter().enumerate() {
        let of_audience: Vec<&Outcome> = outcomes.iter().filter(|o| o.audience == i).collect();
        let control: Vec<&Outcome> = of_audience
            .iter()
            .copied()
            .filter(|o| o.assigned == Assigned::Holdout)
            .collect();
        let total_weight: u32 = a.variants.iter().map(|v| v.weight).sum();
        let mut observed = vec![control.len() as u64];
        let mut shares = vec![a.holdout];
        for (j, v) in a.variants.iter().enumerate() {
            observed.push(
                of_audience
                    .iter()
                    .filter(|o| o.assigned == Assigned::Variant(j))
                    .count() as u64,
            );
            shares.push((1.0 - a.holdout) * f64::from(v.weight) / f64::from(total_weight));
        }
        let srm = if a.holdout > 0.0 {
            effect::srm(&observed, &shares)
        } else {
            None
        };
        if a.variants.len() > 1 {
            for (j, v) in a.variants.iter().enumerate() {
                let treated: Vec<&Outcome> = of_audience
                    .iter()
                    .copied()
                    .filter(|o| o.assigned == Assigned::Variant(j))
                    .collect();
                rows.push(row(Some(&a.name), Some(&v.name), &treated, &control, srm));
            }
        }
        let treated: Vec<&Outcome> = of_audience
            .iter()
            .copied()
            .filter(|o| o.assigned != Assigned::Holdout)
            .collect();
        rows.push(row(Some(&a.name), None, &treated, &control, srm));
    }
    let share = campaign.audiences.first().map(|a| a.holdout);
    if campaign.audiences.len() > 1 && campaign.audiences.iter().all(|a| Some(a.holdout) == share) {
        let (control, treated): (Vec<&Outcome>, Vec<&Outcome>) =
            outcomes.iter().partition(|o| o.assigned == Assigned::Holdout);
        let share = share.unwrap_or_default();
        let srm = effect::srm(&[control.len() as u64, treated.len() as u64], &[share, 1.0 - share]);
        rows.push(row(None, None, &treated, &control, srm));
    }
    rows
}

fn arm(of: &[&Outcome]) -> Arm {
    let n = of.len() as f64;
    let per_head = |f: fn(&Outcome) -> i64| {
        if of.is_empty() {
            0.0
        } else {
            of.iter().map(|o| f(o) as f64).sum::<f64>() / n
        }
    };
    Arm {
        size: of.len() as u64,
        delivered: of.iter().filter(|o| o.delivered).count() as u64,
        clicked: of.iter().filter(|o| o.clicked).count() as u64,
        converted: of.iter().filter(|o| o.converted).count() as u64,
        revenue_per_head: per_head(|o| o.revenue),
        profit_per_head: per_head(|o| o.profit),
        cost: of.iter().map(|o| o.cost).sum(),
    }
}

fn row(
    audience: Option<&str>,
    variant: Option<&str>,
    treated: &[&Outcome],
    control: &[&Outcome],
    srm: Option<Srm>,
) -> Row {
    let (t, c) = (arm(treated), arm(control));
    let conversion_lift = effect::newcombe(t.converted, t.size, c.converted, c.size, CONFIDENCE);
    let relative_lift = effect::fieller_relative(t.converted, t.size, c.converted, c.size, CONFIDENCE);
    let values = |of: &[&Outcome], f: fn(&Outcome) -> i64| of.iter().map(|o| f(o) as f64).collect::<Vec<f64>>();
    let (pt, pc) = (values(treated, |o| o.profit), values(control, |o| o.profit));
    let (bt, bc) = (
        values(treated, |o| o.profit_before),
        values(control, |o| o.profit_before),
    );
    let profit_lift = effect::per_head_lift(&pt, &pc, Some((&bt, &bc)), CONFIDENCE);
    let profit_lift_unadjusted = effect::per_head_lift(&pt, &pc, None, CONFIDENCE);
    let incremental_profit = profit_lift.map(|e| e.scaled(t.size as f64));
    let cost = (t.cost + c.cost) as f64;
    let roi = match incremental_profit {
        Some(e) if cost > 0.0 => Some(Estimate {
            value: (e.value - cost) / cost,
            low: (e.low - cost) / cost,
            high: (e.high - cost) / cost,
        }),
        _ => None,
    };
    // The verdict is the sign of (incremental profit − cost) over its whole interval.
    let verdict = match incremental_profit {
        None => Verdict::NoComparison,
        Some(e) => match (Estimate {
            value: e.value - cost,
            low: e.low - cost,
            high: e.high - cost,
        })
        .sign()
        {
            Sign::Positive => Verdict::Earned,
            Sign::Negative => Verdict::LostMoney,
            Sign::Inconclusive => Verdict::Inconclusive,
        },
    };
    Row {
        audience: audience.map(str::to_string),
        variant: variant.map(str::to_string),
        wave: None,
        treated: t,
        control: c,
        conversion_lift,
        relative_lift,
        profit_lift,
        profit_lift_unadjusted,
        incremental_profit,
        roi,
        srm,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Audience, Campaign, Variant};
    use super::*;

    fn outcome(audience: usize, assigned: Assigned, converted: bool, profit: i64, cost: i64) -> Outcome {
        Outcome {
            audience,
            assigned,
            delivered: assigned != Assigned::Holdout,
            clicked: false,
            converted,
            revenue: profit * 3,
            profit,
            profit_before: 0,
            cost,
        }
    }

    fn campaign(holdouts: [f64; 2]) -> Campaign {
        let a = |name: &str, holdout: f64, variants: Vec<Variant>| Audience {
            name: name.into(),
            segment: name.into(),
            holdout,
            variants,
        };
        let v = Variant::named;
        Campaign::new(
            "c",
            1,
            vec![
                a("vip", holdouts[0], vec![v("a"), v("b")]),
                a("lost", holdouts[1], vec![]),
            ],
        )
        .unwrap()
    }

    /// A big, clear win in one audience and a clear loss (a costly message that changes
    /// nothing) in the other; the verdicts follow the intervals.
    #[test]
    fn verdicts_follow_the_intervals() {
        let c = campaign([0.2, 0.2]);
        let mut outcomes = Vec::new();
        for i in 0..2000 {
            let held = i % 5 == 0;
            let assigned = if held {
                Assigned::Holdout
            } else {
                Assigned::Variant(i % 2)
            };
            // vip: treated convert 30 %, control 10 %, 5,000 cents profit each.
            let converted = if held { i % 50 == 0 } else { i % 10 < 3 };
            outcomes.push(outcome(
                0,
                assigned,
                converted,
                if converted { 5000 } else { 0 },
                if held { 0 } else { 10 },
            ));
            // lost: nobody converts either way, 100 cents a message.
            let assigned = if held { Assigned::Holdout } else { Assigned::Variant(0) };
            outcomes.push(outcome(1, assigned, false, 0, if held { 0 } else { 100 }));
        }
        let rows = report(&c, &outcomes);
        let names: Vec<(Option<&str>, Option<&str>)> = rows
            .iter()
            .map(|r| (r.audience.as_deref(), r.variant.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                (Some("vip"), Some("a")),
                (Some("vip"), Some("b")),
                (Some("vip"), None),
                (Some("lost"), None),
                (None, None)
            ]
        );
        let vip = &rows[2];
        assert_eq!((vip.treated.size, vip.control.size), (1600, 400));
        assert_eq!(vip.verdict, Verdict::Earned);
        assert_eq!(vip.conversion_lift.unwrap().sign(), Sign::Positive);
        // Zero spread in "lost": the profit lift is exactly 0, less 160,000 of cost.
        let lost = &rows[3];
        assert_eq!(lost.verdict, Verdict::LostMoney);
        assert_eq!(lost.relative_lift, None, "no control conversions: no ratio");
        assert_eq!(lost.roi.unwrap().value, -1.0);
        assert!(rows.iter().all(|r| !r.srm.unwrap().flagged));
    }

    #[test]
    fn no_total_when_the_holdout_shares_differ_and_no_claim_without_a_holdout() {
        let c = campaign([0.1, 0.3]);
        let outcomes = vec![
            outcome(0, Assigned::Variant(0), true, 100, 1),
            outcome(0, Assigned::Variant(1), true, 100, 1),
            outcome(1, Assigned::Variant(0), false, 0, 1),
        ];
        let rows = report(&c, &outcomes);
        assert!(rows.iter().all(|r| r.audience.is_some()));
        assert!(rows.iter().all(|r| r.verdict == Verdict::NoComparison), "{rows:?}");
    }
}
