//! Membership tiers (docs/domain.md §6, issue 17): 普通会员, 银卡, 金卡, 钻石 by spend (or
//! orders) in a rolling window. A member moves up at once on the order that qualifies
//! them, and down only at the periodic evaluation (default yearly, on the anniversary of
//! their first paid order), warned a set number of days before when they would drop.
//!
//! A member's tier history is a pure function of their paid orders and the rules
//! ([`history`]): the store records the changes it yields (each with its reason), so
//! that a re-run recomputes the same changes and records none twice.

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

/// What qualifies a member for a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Paid amount (net of refunds) in the window, in cents.
    Spend,
    /// Paid orders in the window.
    Orders,
}

/// One tier and what it gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub name: String,
    /// The spend (cents) or orders in the window that qualify.
    pub threshold: i64,
    /// Points earned × this (default 1).
    #[serde(default = "one")]
    pub points_multiplier: f64,
    #[serde(default)]
    pub free_shipping: bool,
    #[serde(default)]
    pub birthday_gift: bool,
    /// Coupons only this tier receives (names the shop's coupon programs use).
    #[serde(default)]
    pub coupons: Vec<String>,
}

/// A tier benefit a program step gives (`action = { benefit = "birthday_gift" }`): the
/// coupons the member's tier has for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Benefit {
    /// The free-shipping coupon ([`crate::coupon::FREE_SHIPPING`]) where the tier ships free.
    FreeShipping,
    /// The birthday coupon ([`crate::coupon::BIRTHDAY`]) where the tier has a birthday gift.
    BirthdayGift,
    /// The tier's own coupons.
    Coupons,
}

impl Benefit {
    pub fn as_str(self) -> &'static str {
        match self {
            Benefit::FreeShipping => "free_shipping",
            Benefit::BirthdayGift => "birthday_gift",
            Benefit::Coupons => "coupons",
        }
    }

    pub fn parse(s: &str) -> Result<Benefit, String> {
        [Benefit::FreeShipping, Benefit::BirthdayGift, Benefit::Coupons]
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("expected a benefit free_shipping, birthday_gift or coupons, found {s:?}"))
    }
}

impl Level {
    /// The coupons (definition names) this tier gives for `benefit`; none where it has
    /// no such benefit.
    pub fn coupons_for(&self, benefit: Benefit) -> Vec<&str> {
        match benefit {
            Benefit::FreeShipping if self.free_shipping => vec![crate::coupon::FREE_SHIPPING],
            Benefit::BirthdayGift if self.birthday_gift => vec![crate::coupon::BIRTHDAY],
            Benefit::Coupons => self.coupons.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

fn one() -> f64 {
    1.0
}

/// The tier rules (`[tiers]` in the settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tiers {
    pub basis: Basis,
    /// The rolling window qualification is measured over (days).
    pub window_days: u32,
    /// Months between evaluations, from the member's first paid order.
    pub evaluation_months: u32,
    /// Days before an evaluation that a member who would drop is warned.
    pub warning_days: u32,
    /// The tiers from the lowest; the first's threshold is 0.
    pub levels: Vec<Level>,
}

impl Default for Tiers {
    fn default() -> Tiers {
        let level = |name: &str, yuan: i64, multiplier: f64, perks: bool| Level {
            name: name.into(),
            threshold: yuan * 100,
            points_multiplier: multiplier,
            free_shipping: perks,
            birthday_gift: perks,
            coupons: Vec::new(),
        };
        Tiers {
            basis: Basis::Spend,
            window_days: 365,
            evaluation_months: 12,
            warning_days: 30,
            levels: vec![
                level("普通会员", 0, 1.0, false),
                level("银卡", 1_000, 1.2, false),
                level("金卡", 5_000, 1.5, true),
                level("钻石", 20_000, 2.0, true),
            ],
        }
    }
}

/// A paid order as tiers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paid {
    pub at: DateTime<Utc>,
    /// Net of refunds.
    pub cents: i64,
}

names! {
    /// Why a tier changed: the member's first paid order (joined), an order that took the
    /// window to a higher tier's threshold (qualified), or the periodic evaluation
    /// (evaluated).
    pub enum Why { Joined = "joined", Qualified = "qualified", Evaluated = "evaluated" }
}

/// A change of tier, or a warning that one is coming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub at: DateTime<Utc>,
    /// The tier index before (`None`: not a member yet) and after.
    pub from: Option<usize>,
    pub to: usize,
    pub why: Why,
    /// The window's spend (cents) or orders at the change.
    pub measure: i64,
}

/// A member who would drop at the coming evaluation, warned before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub at: DateTime<Utc>,
    /// When the evaluation falls.
    pub evaluation: DateTime<Utc>,
    pub tier: usize,
    /// The tier the window reaches at the warning.
    pub would_be: usize,
    pub measure: i64,
}

impl Tiers {
    /// The highest tier `measure` reaches.
    pub fn reached(&self, measure: i64) -> usize {
        self.levels.iter().rposition(|l| measure >= l.threshold).unwrap_or(0)
    }

    /// The window's measure at `at`: spend or orders paid in `(at − window, at]`.
    fn measure(&self, orders: &[Paid], at: DateTime<Utc>) -> i64 {
        let from = at - Duration::days(i64::from(self.window_days));
        let within = orders.iter().filter(|o| o.at > from && o.at <= at);
        match self.basis {
            Basis::Spend => within.map(|o| o.cents).sum(),
            Basis::Orders => within.count() as i64,
        }
    }

    /// The multiplier of tier `i`.
    pub fn multiplier(&self, i: usize) -> f64 {
        self.levels.get(i).map_or(1.0, |l| l.points_multiplier)
    }
}

/// A member's tier history up to `until` from their paid orders (any order): the changes
/// (joining, each upgrade at the order that qualified, each evaluation that moved them)
/// and the warnings before evaluations that would lower them.
pub fn history(tiers: &Tiers, orders: &[Paid], until: DateTime<Utc>) -> (Vec<Change>, Vec<Warning>) {
    let mut orders: Vec<Paid> = orders.iter().copied().filter(|o| o.at <= until).collect();
    orders.sort_by_key(|o| o.at);
    let (mut changes, mut warnings) = (Vec::new(), Vec::new());
    let Some(first) = orders.first().map(|o| o.at) else {
        return (changes, warnings);
    };
    let evaluation = |k: u32| {
        first
            .checked_add_months(Months::new(tiers.evaluation_months.max(1).saturating_mul(k)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    let mut current: Option<usize> = None;
    let mut k = 1;
    let mut i = 0;
    loop {
        let next_eval = evaluation(k);
        let next_order = orders.get(i).map(|o| o.at);
        match next_order {
            Some(at) if at < next_eval => {
                // Orders paid at the same moment count together.
                while orders.get(i).is_some_and(|o| o.at == at) {
                    i += 1;
                }
                let measure = tiers.measure(&orders[..i], at);
                let reached = tiers.reached(measure);
                match current {
                    None => {
                        changes.push(Change {
                            at,
                            from: None,
                            to: reached,
                            why: Why::Joined,
                            measure,
                        });
                        current = Some(reached);
                    }
                    Some(c) if reached > c => {
                        changes.push(Change {
                            at,
                            from: Some(c),
                            to: reached,
                            why: Why::Qualified,
                            measure,
                        });
                        current = Some(reached);
                    }
                    _ => {}
                }
            }
            _ => {
                let warn_at = next_eval - Duration::days(i64::from(tiers.warning_days));
                if warn_at > until {
                    break;
                }
                let c = current.unwrap_or(0);
                // What the evaluation would find if the member bought nothing more after
                // the warning: the orders known then, measured at the evaluation.
                let known: Vec<Paid> = orders[..i].iter().copied().filter(|o| o.at <= warn_at).collect();
                let at_warning = tiers.measure(&known, next_eval);
                let would_be = tiers.reached(at_warning);
                if would_be < c {
                    warnings.push(Warning {
                        at: warn_at,
                        evaluation: next_eval,
                        tier: c,
                        would_be,
                        measure: at_warning,
                    });
                }
                if next_eval > until {
                    break;
                }
                let measure = tiers.measure(&orders[..i], next_eval);
                let reached = tiers.reached(measure);
                if reached != c {
                    changes.push(Change {
                        at: next_eval,
                        from: Some(c),
                        to: reached,
                        why: Why::Evaluated,
                        measure,
                    });
                    current = Some(reached);
                }
                k += 1;
            }
        }
    }
    (changes, warnings)
}

/// The tier in force just before `at` (an order earns at the tier held before it).
pub fn tier_before(changes: &[Change], at: DateTime<Utc>) -> usize {
    changes.iter().take_while(|c| c.at < at).last().map_or(0, |c| c.to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn paid(at: DateTime<Utc>, yuan: i64) -> Paid {
        Paid { at, cents: yuan * 100 }
    }

    #[test]
    fn an_order_that_qualifies_upgrades_at_once() {
        let t = Tiers::default();
        let orders = [
            paid(day(2026, 1, 10), 600),
            paid(day(2026, 3, 1), 399),
            paid(day(2026, 3, 2), 1),
        ];
        let (changes, _) = history(&t, &orders, day(2026, 6, 1));
        // ¥600, then ¥999 (still 普通会员), then ¥1,000 on 2 March: 银卡 that moment.
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!((changes[0].why, changes[0].to), (Why::Joined, 0));
        assert_eq!(
            (
                changes[1].at,
                changes[1].from,
                changes[1].to,
                changes[1].why,
                changes[1].measure
            ),
            (day(2026, 3, 2), Some(0), 1, Why::Qualified, 100_000)
        );
        assert_eq!(
            tier_before(&changes, day(2026, 3, 2)),
            0,
            "the qualifying order earns at the old tier"
        );
        assert_eq!(tier_before(&changes, day(2026, 3, 3)), 1);
    }

    #[test]
    fn a_tier_is_lowered_only_at_the_evaluation_with_a_warning_before() {
        let t = Tiers::default();
        // ¥5,000 on 10 Jan 2026: 金卡 at once; ¥100 on 1 Mar. The evaluation falls on the
        // first order's anniversary, 10 Jan 2027, when the big order has left the 365-day
        // window: the member would drop to 普通会员 — warned on 11 Dec 2026 (30 days
        // before), still 金卡 until the evaluation, 普通会员 from it.
        let orders = [paid(day(2026, 1, 10), 5_000), paid(day(2026, 3, 1), 100)];
        let (changes, warnings) = history(&t, &orders, day(2026, 12, 10));
        assert_eq!(changes.last().unwrap().to, 2);
        assert!(warnings.is_empty(), "the day before the warning: {warnings:?}");
        let (_, warnings) = history(&t, &orders, day(2026, 12, 11));
        assert_eq!(
            warnings
                .iter()
                .map(|w| (w.at, w.evaluation, w.tier, w.would_be, w.measure))
                .collect::<Vec<_>>(),
            [(day(2026, 12, 11), day(2027, 1, 10), 2, 0, 10_000)]
        );
        let (changes, _) = history(&t, &orders, day(2027, 1, 9));
        assert_eq!(changes.last().unwrap().to, 2, "金卡 the day before the evaluation");
        let (changes, _) = history(&t, &orders, day(2027, 1, 10));
        let last = changes.last().unwrap();
        assert_eq!(
            (last.at, last.from, last.to, last.why, last.measure),
            (day(2027, 1, 10), Some(2), 0, Why::Evaluated, 10_000)
        );
        // An order between the warning and the evaluation that keeps the tier: warned all
        // the same, and no drop.
        let kept = [
            paid(day(2026, 1, 10), 5_000),
            paid(day(2026, 3, 1), 100),
            paid(day(2027, 1, 5), 5_000),
        ];
        let (changes, warnings) = history(&t, &kept, day(2027, 2, 1));
        assert_eq!(warnings.len(), 1);
        assert!(changes.iter().all(|c| c.why != Why::Evaluated), "{changes:?}");
        // A member whose window still reaches the tier at the evaluation is not warned.
        let steady = [paid(day(2026, 1, 10), 5_000), paid(day(2026, 6, 1), 5_000)];
        let (changes, warnings) = history(&t, &steady, day(2027, 2, 1));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(changes.last().unwrap().to, 2);
    }

    #[test]
    fn tiers_by_orders_count_orders() {
        let t = Tiers {
            basis: Basis::Orders,
            levels: vec![
                Level {
                    threshold: 0,
                    ..Tiers::default().levels[0].clone()
                },
                Level {
                    threshold: 3,
                    ..Tiers::default().levels[1].clone()
                },
            ],
            ..Tiers::default()
        };
        let orders = [
            paid(day(2026, 1, 1), 1),
            paid(day(2026, 1, 2), 1),
            paid(day(2026, 1, 3), 1),
        ];
        let (changes, _) = history(&t, &orders, day(2026, 2, 1));
        assert_eq!(changes.last().map(|c| (c.to, c.measure)), Some((1, 3)));
        assert_eq!(t.multiplier(1), 1.2);
    }
}
