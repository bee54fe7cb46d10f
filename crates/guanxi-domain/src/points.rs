//! Points (docs/domain.md §6, issue 17): an append-only ledger in lots.
//!
//! Every earning is a lot with its source, amount and expiry; a redemption consumes the
//! lots that expire first and records which; a refund takes back what its order earned
//! from that order's lot first, then from the lots that expire first, and what is
//! already spent becomes a debt that later earnings repay — never a silent negative;
//! expiry empties the lots past their day; a manual adjustment carries its reason and
//! operator. Each event has a key (its kind and the business id that makes it unique:
//! an order, a refund, a period), and an event whose key was posted before changes
//! nothing, so a replayed order or webhook earns once.
//!
//! The ledger stores [`Movement`]s only: a balance is their sum, a lot's remaining
//! points the sum of its movements, the debt minus the sum of the movements without a
//! lot — never a stored number that can drift. [`Account`] is the state they add up
//! to, rebuilt by posting the events again ([`Account::post`]), which is how
//! `guanxi member verify` proves every balance.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

names! {
    /// What an event does.
    pub enum Kind {
        Earn = "earn",
        Redeem = "redeem",
        Refund = "refund",
        Expire = "expire",
        Adjust = "adjust",
    }
}

/// What makes an event unique: its kind, where it came from, and the business id there
/// (an order's id for an earning, a refund's id, a period for expiry, an operator's
/// reference for an adjustment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub kind: Kind,
    pub source: String,
    pub id: String,
}

impl Key {
    pub fn new(kind: Kind, source: &str, id: &str) -> Key {
        Key {
            kind,
            source: source.into(),
            id: id.into(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.kind, self.source, self.id)
    }
}

/// An event of one member's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Points earned (an order paid): a new lot, expiring then.
    Earn { points: u64, expires_at: DateTime<Utc> },
    /// Points spent: taken from the lots that expire first; refused beyond the balance.
    Redeem { points: u64 },
    /// Points an earning gave taken back (its order refunded): at most what it earned,
    /// less what was taken back before.
    Refund { earned: Key, points: u64 },
    /// The lots whose expiry has come lose what remains.
    Expire,
    /// A manual change: a positive one is a lot expiring then; a negative one is taken
    /// like a redemption and may go into debt (the operator's decision, recorded).
    Adjust {
        points: i64,
        expires_at: DateTime<Utc>,
        reason: String,
        operator: String,
    },
}

/// One movement of points: the only thing the ledger stores. `lot` is the earning it
/// belongs to; `None` is the debt (negative: owed; positive: repaid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub key: Key,
    pub lot: Option<Key>,
    pub points: i64,
    pub at: DateTime<Utc>,
}

/// A lot: what one earning (or positive adjustment) gave and what remains of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lot {
    pub key: Key,
    pub earned_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub points: u64,
    pub remaining: u64,
    /// What expiry took from it.
    pub expired: u64,
}

/// Why an event was refused (nothing was recorded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("redeem: expected at most the balance, {balance} points, found {points}")]
    Insufficient { balance: i64, points: u64 },
    #[error("refund: no earning {0} to take back from")]
    UnknownEarning(Key),
    #[error("{0}: expected more than 0 points")]
    Zero(Kind),
    #[error("adjust: expected a reason and an operator")]
    Unexplained,
    #[error("{key}: expected an event of kind {key_kind}, found {event}")]
    WrongKind { key: Key, key_kind: Kind, event: Kind },
}

/// One member's points as their ledger adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Lots by their earning's key.
    lots: BTreeMap<Key, Lot>,
    /// Points owed (taken back after they were spent), repaid by later earnings.
    debt: u64,
    /// Every key posted.
    seen: HashSet<Key>,
    /// Points taken back so far per earning.
    refunded: BTreeMap<Key, u64>,
}

impl Event {
    fn kind(&self) -> Kind {
        match self {
            Event::Earn { .. } => Kind::Earn,
            Event::Redeem { .. } => Kind::Redeem,
            Event::Refund { .. } => Kind::Refund,
            Event::Expire => Kind::Expire,
            Event::Adjust { .. } => Kind::Adjust,
        }
    }
}

impl Account {
    /// The balance: what remains in the lots less the debt.
    pub fn balance(&self) -> i64 {
        self.available() as i64 - self.debt as i64
    }

    /// What remains in the lots (spendable).
    pub fn available(&self) -> u64 {
        self.lots.values().map(|l| l.remaining).sum()
    }

    pub fn debt(&self) -> u64 {
        self.debt
    }

    /// The lots, by their earning's key.
    pub fn lots(&self) -> impl Iterator<Item = &Lot> {
        self.lots.values()
    }

    /// Whether an event with this key was posted.
    pub fn has(&self, key: &Key) -> bool {
        self.seen.contains(key)
    }

    /// Posts event `event` with key `key` at `at`: the movements it makes, now part of
    /// the account (the caller stores them). A key posted before makes none; a refused
    /// event changes nothing.
    pub fn post(&mut self, key: &Key, at: DateTime<Utc>, event: &Event) -> Result<Vec<Movement>, Refused> {
        if self.seen.contains(key) {
            return Ok(Vec::new());
        }
        if key.kind != event.kind() {
            return Err(Refused::WrongKind {
                key: key.clone(),
                key_kind: key.kind,
                event: event.kind(),
            });
        }
        let mut out = Vec::new();
        let mv = |lot: Option<&Key>, points: i64| Movement {
            key: key.clone(),
            lot: lot.cloned(),
            points,
            at,
        };
        match event {
            Event::Earn { points, expires_at } => {
                if *points == 0 {
                    return Err(Refused::Zero(Kind::Earn));
                }
                self.add_lot(key, at, *expires_at, *points, &mut out, &mv);
            }
            Event::Redeem { points } => {
                if *points == 0 {
                    return Err(Refused::Zero(Kind::Redeem));
                }
                if *points > self.available() || self.debt > 0 {
                    return Err(Refused::Insufficient {
                        balance: self.balance(),
                        points: *points,
                    });
                }
                self.take(*points, None, &mut out, &mv);
            }
            Event::Refund { earned, points } => {
                if *points == 0 {
                    return Err(Refused::Zero(Kind::Refund));
                }
                let Some(lot) = self.lots.get(earned) else {
                    return Err(Refused::UnknownEarning(earned.clone()));
                };
                // At most what the earning gave, less what was taken back before and what
                // expired unspent (the member never had the use of that).
                let before = self.refunded.get(earned).copied().unwrap_or(0);
                let points = (*points).min(lot.points.saturating_sub(before + lot.expired));
                if points == 0 {
                    self.seen.insert(key.clone());
                    return Ok(out);
                }
                *self.refunded.entry(earned.clone()).or_default() += points;
                let short = self.take(points, Some(earned), &mut out, &mv);
                if short > 0 {
                    self.debt += short;
                    out.push(mv(None, -(short as i64)));
                }
            }
            Event::Expire => {
                for lot in self.lots.values_mut() {
                    if lot.expires_at <= at && lot.remaining > 0 {
                        out.push(mv(Some(&lot.key), -(lot.remaining as i64)));
                        lot.expired += lot.remaining;
                        lot.remaining = 0;
                    }
                }
            }
            Event::Adjust {
                points,
                expires_at,
                reason,
                operator,
            } => {
                if reason.trim().is_empty() || operator.trim().is_empty() {
                    return Err(Refused::Unexplained);
                }
                if *points == 0 {
                    return Err(Refused::Zero(Kind::Adjust));
                }
                if *points > 0 {
                    self.add_lot(key, at, *expires_at, points.unsigned_abs(), &mut out, &mv);
                } else {
                    let short = self.take(points.unsigned_abs(), None, &mut out, &mv);
                    if short > 0 {
                        self.debt += short;
                        out.push(mv(None, -(short as i64)));
                    }
                }
            }
        }
        self.seen.insert(key.clone());
        Ok(out)
    }

    /// A new lot of `points`, which first repays any debt.
    fn add_lot(
        &mut self,
        key: &Key,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        points: u64,
        out: &mut Vec<Movement>,
        mv: &dyn Fn(Option<&Key>, i64) -> Movement,
    ) {
        out.push(mv(Some(key), points as i64));
        let repaid = points.min(self.debt);
        self.lots.insert(
            key.clone(),
            Lot {
                key: key.clone(),
                earned_at: at,
                expires_at,
                points,
                remaining: points - repaid,
                expired: 0,
            },
        );
        if repaid > 0 {
            self.debt -= repaid;
            out.push(mv(Some(key), -(repaid as i64)));
            out.push(mv(None, repaid as i64));
        }
    }

    /// Takes `points` from lot `first` (when given), then from the lots that expire
    /// first (earliest expiry, then earliest earning); what could not be taken.
    fn take(
        &mut self,
        points: u64,
        first: Option<&Key>,
        out: &mut Vec<Movement>,
        mv: &dyn Fn(Option<&Key>, i64) -> Movement,
    ) -> u64 {
        let mut order: Vec<Key> = first.into_iter().cloned().collect();
        let mut rest: Vec<&Lot> = self
            .lots
            .values()
            .filter(|l| l.remaining > 0 && Some(&l.key) != first)
            .collect();
        rest.sort_by(|a, b| (a.expires_at, a.earned_at, &a.key).cmp(&(b.expires_at, b.earned_at, &b.key)));
        order.extend(rest.into_iter().map(|l| l.key.clone()));
        let mut left = points;
        for key in order {
            if left == 0 {
                break;
            }
            let Some(lot) = self.lots.get_mut(&key) else { continue };
            let n = left.min(lot.remaining);
            if n > 0 {
                lot.remaining -= n;
                left -= n;
                out.push(mv(Some(&key), -(n as i64)));
            }
        }
        left
    }
}

/// How a shop gives points (`[points]` in the settings).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Points per yuan paid (default 1).
    pub points_per_yuan: f64,
    /// Months a lot lasts before it expires, first in first out (default 12).
    pub expiry_months: u32,
    /// What a point is worth when redeemed, in cents (default 1: 100 points a yuan).
    pub cents_per_point: f64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            points_per_yuan: 1.0,
            expiry_months: 12,
            cents_per_point: 1.0,
        }
    }
}

/// What the points a shop has given out are worth to it: the liability.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Liability {
    /// Points in the members' lots (spendable).
    pub outstanding: u64,
    /// Their value at the redemption rate (cents).
    pub value_cents: i64,
    /// Points owed by members in debt.
    pub debt: u64,
    /// Points that expire in the month ahead (with those already past their day, which
    /// the next expiry run takes).
    pub expiring_next_month: u64,
    /// The share of points that left their lots by expiring rather than being spent or
    /// taken back, over the shop's history; `None` before any point left a lot.
    pub breakage_rate: Option<f64>,
    /// The outstanding value expected never to be redeemed, at that rate (cents).
    pub expected_breakage_cents: i64,
    /// Points that left their lots so far, and of them those that expired.
    #[serde(skip)]
    left: u64,
    #[serde(skip)]
    expired: u64,
}

impl Liability {
    /// Adds one member's account (lots whose day falls by `next_month` count as expiring
    /// next month: those past it too, since the expiry run has not taken them yet).
    pub fn add(&mut self, account: &Account, next_month: DateTime<Utc>) {
        self.outstanding += account.available();
        self.debt += account.debt();
        for lot in account.lots() {
            if lot.expires_at <= next_month {
                self.expiring_next_month += lot.remaining;
            }
            self.left += lot.points - lot.remaining;
            self.expired += lot.expired;
        }
    }

    /// The figures once every account is added, at `rules`' redemption rate.
    pub fn finish(mut self, rules: &Rules) -> Liability {
        let value = |points: f64| (points * rules.cents_per_point).round() as i64;
        self.value_cents = value(self.outstanding as f64);
        self.breakage_rate = (self.left > 0).then(|| self.expired as f64 / self.left as f64);
        self.expected_breakage_cents = value(self.outstanding as f64 * self.breakage_rate.unwrap_or(0.0));
        self
    }
}

/// The balance movements add up to.
pub fn balance_of<'a>(movements: impl IntoIterator<Item = &'a Movement>) -> i64 {
    movements.into_iter().map(|m| m.points).sum()
}

/// Points an order earns: the paid amount in yuan × the shop's rate × the tier's
/// multiplier, rounded down (a fraction of a point is not given).
pub fn earned(paid_cents: i64, points_per_yuan: f64, multiplier: f64) -> u64 {
    let points = paid_cents.max(0) as f64 / 100.0 * points_per_yuan * multiplier;
    if points.is_finite() && points > 0.0 {
        points.floor() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day)
    }

    fn earn(id: &str) -> Key {
        Key::new(Kind::Earn, "shop", id)
    }

    #[test]
    fn a_refund_after_spending_is_a_debt_that_the_next_earning_repays() {
        let mut a = Account::default();
        a.post(
            &earn("o1"),
            at(0),
            &Event::Earn {
                points: 100,
                expires_at: at(365),
            },
        )
        .unwrap();
        a.post(
            &Key::new(Kind::Redeem, "shop", "r1"),
            at(1),
            &Event::Redeem { points: 80 },
        )
        .unwrap();
        let back = a
            .post(
                &Key::new(Kind::Refund, "shop", "o1-refund"),
                at(2),
                &Event::Refund {
                    earned: earn("o1"),
                    points: 100,
                },
            )
            .unwrap();
        assert_eq!(balance_of(&back), -100);
        assert_eq!((a.balance(), a.debt(), a.available()), (-80, 80, 0));
        // Replayed: nothing.
        let again = a
            .post(
                &Key::new(Kind::Refund, "shop", "o1-refund"),
                at(3),
                &Event::Refund {
                    earned: earn("o1"),
                    points: 100,
                },
            )
            .unwrap();
        assert!(again.is_empty());
        // Redeeming while in debt is refused.
        assert!(matches!(
            a.post(
                &Key::new(Kind::Redeem, "shop", "r2"),
                at(3),
                &Event::Redeem { points: 1 }
            ),
            Err(Refused::Insufficient { balance: -80, .. })
        ));
        a.post(
            &earn("o2"),
            at(4),
            &Event::Earn {
                points: 50,
                expires_at: at(400),
            },
        )
        .unwrap();
        assert_eq!((a.balance(), a.debt()), (-30, 30));
        a.post(
            &earn("o3"),
            at(5),
            &Event::Earn {
                points: 50,
                expires_at: at(400),
            },
        )
        .unwrap();
        assert_eq!((a.balance(), a.debt(), a.available()), (20, 0, 20));
    }

    #[test]
    fn redemption_takes_the_lots_that_expire_first_and_expiry_empties_them() {
        let mut a = Account::default();
        a.post(
            &earn("late"),
            at(0),
            &Event::Earn {
                points: 10,
                expires_at: at(300),
            },
        )
        .unwrap();
        a.post(
            &earn("soon"),
            at(1),
            &Event::Earn {
                points: 10,
                expires_at: at(100),
            },
        )
        .unwrap();
        let spent = a
            .post(
                &Key::new(Kind::Redeem, "shop", "r"),
                at(2),
                &Event::Redeem { points: 15 },
            )
            .unwrap();
        let lots: Vec<(String, i64)> = spent
            .iter()
            .map(|m| (m.lot.as_ref().unwrap().id.clone(), m.points))
            .collect();
        assert_eq!(lots, [("soon".to_string(), -10), ("late".to_string(), -5)]);
        let gone = a
            .post(&Key::new(Kind::Expire, "shop", "2026-11"), at(300), &Event::Expire)
            .unwrap();
        assert_eq!(balance_of(&gone), -5);
        assert_eq!(a.balance(), 0);
        assert_eq!(earned(12_345, 1.0, 1.5), 185, "123.45 yuan × 1 × 1.5");
        // 20 points spent, 5 expired: a breakage of 5 / 20 of what left the lots; nothing
        // outstanding now, so nothing expected to break.
        let mut l = Liability::default();
        l.add(&a, at(331));
        let l = l.finish(&Rules::default());
        assert_eq!((l.outstanding, l.value_cents, l.breakage_rate), (0, 0, Some(0.25)));
        let mut b = Account::default();
        b.post(
            &earn("x"),
            at(0),
            &Event::Earn {
                points: 400,
                expires_at: at(20),
            },
        )
        .unwrap();
        let mut l = Liability::default();
        l.add(&a, at(41));
        l.add(&b, at(41));
        let l = l.finish(&Rules::default());
        assert_eq!((l.outstanding, l.value_cents, l.expiring_next_month), (400, 400, 400));
        assert_eq!(l.expected_breakage_cents, 100, "a quarter of ¥4.00");
        assert_eq!(earned(-500, 1.0, 1.0), 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// An operation of a random history; `Replay(i)` posts the i-th event again.
        #[derive(Debug, Clone)]
        enum Op {
            Earn(u64, i64),
            Redeem(u64),
            Refund(usize, u64),
            Expire,
            Adjust(i64),
            Replay(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (1u64..500, 1i64..400).prop_map(|(p, d)| Op::Earn(p, d)),
                3 => (1u64..600).prop_map(Op::Redeem),
                2 => (0usize..50, 1u64..600).prop_map(|(i, p)| Op::Refund(i, p)),
                1 => Just(Op::Expire),
                1 => (-300i64..300).prop_map(Op::Adjust),
                2 => (0usize..50).prop_map(Op::Replay),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// For any history: the balance is the ledger's sum; it is negative only with a
            /// recorded debt and no points left in any lot; no lot goes below zero; a
            /// replayed event changes nothing; a redemption empties the lots that expire
            /// first before touching a later one; and posting the same events again into a
            /// fresh account gives the same movements.
            #[test]
            fn the_ledger_proves_every_balance(ops in proptest::collection::vec(op(), 1..80)) {
                let mut a = Account::default();
                let mut ledger: Vec<Movement> = Vec::new();
                let mut posted: Vec<(Key, DateTime<Utc>, Event)> = Vec::new();
                let mut earnings: Vec<Key> = Vec::new();
                for (n, op) in ops.iter().enumerate() {
                    let now = at(n as i64 * 7);
                    let (key, event) = match op {
                        Op::Earn(p, days) => {
                            let key = earn(&format!("o{n}"));
                            earnings.push(key.clone());
                            (key, Event::Earn { points: *p, expires_at: now + chrono::Duration::days(*days) })
                        }
                        Op::Redeem(p) => (Key::new(Kind::Redeem, "shop", &format!("r{n}")), Event::Redeem { points: *p }),
                        Op::Refund(i, p) => match earnings.get(i % earnings.len().max(1)) {
                            Some(e) => (
                                Key::new(Kind::Refund, "shop", &format!("f{n}")),
                                Event::Refund { earned: e.clone(), points: *p },
                            ),
                            None => continue,
                        },
                        Op::Expire => (Key::new(Kind::Expire, "shop", &format!("p{n}")), Event::Expire),
                        Op::Adjust(p) if *p == 0 => continue,
                        Op::Adjust(p) => (
                            Key::new(Kind::Adjust, "shop", &format!("a{n}")),
                            Event::Adjust { points: *p, expires_at: now + chrono::Duration::days(365), reason: "fix".into(), operator: "ann".into() },
                        ),
                        Op::Replay(i) => match posted.get(i % posted.len().max(1)) {
                            Some((k, _, e)) => {
                                let before = a.clone();
                                let moved = a.post(k, now, e).unwrap();
                                prop_assert!(moved.is_empty(), "a replay moved points");
                                prop_assert_eq!(&a, &before);
                                continue;
                            }
                            None => continue,
                        },
                    };
                    let lots_before: Vec<Lot> = a.lots().cloned().collect();
                    match a.post(&key, now, &event) {
                        Ok(moved) => {
                            if let Event::Redeem { .. } = event {
                                // The lots touched, in order: every one but the last emptied,
                                // and none left untouched that expires before a touched one.
                                let touched: Vec<&Key> = moved.iter().filter_map(|m| m.lot.as_ref()).collect();
                                let expiry = |k: &Key| lots_before.iter().find(|l| &l.key == k).map(|l| l.expires_at);
                                for w in touched.windows(2) {
                                    prop_assert!(expiry(w[0]) <= expiry(w[1]));
                                    prop_assert_eq!(a.lots().find(|l| &l.key == w[0]).map(|l| l.remaining), Some(0));
                                }
                                if let Some(last) = touched.last() {
                                    for l in &lots_before {
                                        if l.remaining > 0 && expiry(&l.key) < expiry(last) {
                                            prop_assert!(touched.contains(&&l.key), "lot {} expires earlier and was skipped", l.key);
                                        }
                                    }
                                }
                            }
                            ledger.extend(moved);
                            posted.push((key, now, event));
                        }
                        Err(_) => {
                            prop_assert_eq!(a.lots().cloned().collect::<Vec<_>>(), lots_before, "a refusal changed nothing");
                        }
                    }
                    prop_assert_eq!(a.balance(), balance_of(&ledger));
                    prop_assert!(a.lots().all(|l| l.remaining <= l.points));
                    for l in a.lots() {
                        let sum: i64 = ledger.iter().filter(|m| m.lot.as_ref() == Some(&l.key)).map(|m| m.points).sum();
                        prop_assert_eq!(sum, l.remaining as i64);
                    }
                    let debt: i64 = -ledger.iter().filter(|m| m.lot.is_none()).map(|m| m.points).sum::<i64>();
                    prop_assert_eq!(debt, a.debt() as i64);
                    if a.balance() < 0 {
                        prop_assert!(a.debt() > 0 && a.available() == 0);
                    }
                    if a.debt() > 0 {
                        prop_assert_eq!(a.available(), 0, "a debt while points remain");
                    }
                }
                // Rebuilt from the events: the same movements.
                let mut again = Account::default();
                let mut rebuilt = Vec::new();
                for (k, t, e) in &posted {
                    rebuilt.extend(again.post(k, *t, e).unwrap());
                }
                prop_assert_eq!(rebuilt, ledger);
                prop_assert_eq!(again, a);
            }
        }
    }
}
