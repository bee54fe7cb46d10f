//! What the store keeps of profile builds: the current profile per person, the builds, the
//! class changes between builds, saved segments and merges.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use guanxi_domain::profile::ClassKind;
use serde::{Deserialize, Serialize};

use crate::{BuildRows, ProfileColumns};

/// Profile builds: stored whole as the current one with their class changes, and what
/// the pages read of them (SQL in [`crate::sql_builds!`]; each backend writes a build
/// its own way).
#[async_trait::async_trait]
pub trait Builds {
    /// Replaces the current profiles with `rows` as one build, records every class change
    /// against the previous build (none for the first) and returns the build with its id.
    /// `rows` is read as it is written, so that a million profiles need not be in memory
    /// at once as rows; its summary, when it gives one, replaces the record's.
    async fn save_build(&self, build: &BuildRecord, rows: &mut dyn BuildRows) -> crate::Result<BuildRecord>;

    /// The newest build, if any.
    async fn latest_build(&self) -> crate::Result<Option<BuildRecord>>;

    /// Class changes recorded by builds as of after `since` (all when `None`), counted per
    /// kind, from and to.
    async fn movements(&self, since: Option<DateTime<Utc>>) -> crate::Result<Vec<Movement>>;

    /// Per class of every kind in the current build: customers, paid amount, profit and
    /// predicted CLV.
    async fn class_totals(&self) -> crate::Result<Vec<ClassTotal>>;

    /// Satisfaction over paid orders, reviews and service records up to `as_of`.
    async fn satisfaction(&self, as_of: DateTime<Utc>) -> crate::Result<Satisfaction>;

    /// The current build's customers with a forecast, by CLV bucket ([`CLV_BUCKETS`]).
    async fn clv_distribution(&self) -> crate::Result<Vec<ClvBucket>>;

    /// One customer's class changes, oldest first.
    async fn customer_transitions(&self, customer_id: i64) -> crate::Result<Vec<Transition>>;

    /// The current build's profile columns, for counting segments in memory
    /// ([`ProfileColumns::count`]); `None` before the first build.
    async fn profile_columns(&self) -> crate::Result<Option<ProfileColumns>>;
}

/// A profile's classes as `{kind: class}`, the kinds it has none of left out.
fn classes_by_kind<S: serde::Serializer>(classes: &[Option<String>; 8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(
        ClassKind::ALL
            .iter()
            .zip(classes)
            .filter_map(|(k, c)| c.as_ref().map(|c| (k.as_str(), c))),
    )
}

/// The profile table's class columns, named as their kinds, in [`ClassKind`] order.
pub fn class_columns() -> String {
    ClassKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// One person's profile as stored: the columns segments filter on. (The whole profile
/// with its explanations is kept in the lake, one file per build.)
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ProfileRow {
    pub customer_id: i64,
    /// One class per [`ClassKind`], in its order; `None` where the kind does not apply
    /// (a non-buyer has no lifecycle stage). Written out as `{kind: class}`.
    #[serde(serialize_with = "classes_by_kind")]
    pub classes: [Option<String>; 8],
    pub r: Option<i64>,
    pub f: Option<i64>,
    pub m: Option<i64>,
    pub recency_days: Option<i64>,
    pub paid_orders: i64,
    pub frequency: i64,
    pub cycle_days: Option<f64>,
    pub discount_share: f64,
    pub complaint_count: i64,
    pub praise_count: i64,
    pub paid_amount_cents: i64,
    pub profit_cents: i64,
    pub refunds_cents: i64,
    pub monetary_cents: i64,
    pub won_back: bool,
    pub upgrade_potential: bool,
    pub first_paid_at: Option<DateTime<Utc>>,
    pub last_paid_at: Option<DateTime<Utc>>,
    /// The build's forecast (issue 4); `None` without a fitted model or for non-buyers.
    pub p_alive: Option<f64>,
    /// Expected purchases in the settings' horizon.
    pub expected_purchases: Option<f64>,
    pub clv_cents: Option<i64>,
    /// When the next purchase is expected if the customer is still active (the median).
    pub next_purchase_at: Option<DateTime<Utc>>,
}

/// A profile build as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildRecord {
    /// 0 until saved.
    pub id: i64,
    pub as_of: DateTime<Utc>,
    pub built_at: DateTime<Utc>,
    pub customers: i64,
    /// Class changes against the previous build; 0 for the first.
    pub transitions: i64,
    pub summary: String,
}

/// One class change of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub as_of: DateTime<Utc>,
}

/// How many customers moved from one class to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Movement {
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub customers: u64,
}

/// One class of the current build with its customers and what they bring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTotal {
    pub kind: String,
    pub class: String,
    pub customers: u64,
    pub paid_amount_cents: i64,
    pub profit_cents: i64,
    /// Sum of the customers' predicted CLVs (those with a forecast).
    pub clv_cents: i64,
}

/// Satisfaction (docs/domain.md §2): review ratings, complaints per 100 paid orders, and the
/// service satisfaction scores, over the paid orders, reviews and service records up to
/// an as-of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Satisfaction {
    pub paid_orders: u64,
    pub reviews: u64,
    /// Mean ratings (DSR: item as described, service, logistics); `None` without ratings.
    pub item_rating: Option<f64>,
    pub service_rating: Option<f64>,
    pub logistics_rating: Option<f64>,
    /// Complaints and disputes.
    pub complaints: u64,
    /// Complaints per 100 paid orders.
    pub complaint_rate: f64,
    pub service_satisfaction: Option<f64>,
}

/// Customers of the current build whose predicted CLV falls in [from, to) (to `None`: no
/// upper bound), in cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClvBucket {
    pub from_cents: i64,
    pub to_cents: Option<i64>,
    pub customers: u64,
    pub clv_cents: i64,
}

/// The CLV buckets' lower bounds in cents: 0, 10, 50, 100, 500, 1,000, 5,000 yuan.
pub const CLV_BUCKETS: [i64; 7] = [0, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000];

/// The class changes from `old` to `new` for one customer, per kind.
pub fn transitions<'a>(
    old: Option<&'a [Option<String>; 8]>,
    new: Option<&'a [Option<String>; 8]>,
) -> impl Iterator<Item = (&'static str, Option<&'a str>, Option<&'a str>)> {
    (0..ClassKind::COUNT).filter_map(move |k| {
        let from = old.and_then(|c| c[k].as_deref());
        let to = new.and_then(|c| c[k].as_deref());
        (from != to).then_some((ClassKind::ALL[k].as_str(), from, to))
    })
}

/// The classes of the build a new build replaces, interned (1M people fit in tens of
/// MB), and the class changes the new build makes against them. Every backend's
/// `save_build` runs it, so that a transition means one thing on all of them.
#[derive(Debug)]
pub struct PreviousClasses {
    by_customer: HashMap<i64, [u16; 8]>,
    /// Class names by index; 0 is "no class".
    names: Vec<String>,
    index: HashMap<String, u16>,
}

/// One class change a build records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassChange {
    pub customer_id: i64,
    pub kind: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Default for PreviousClasses {
    fn default() -> Self {
        PreviousClasses {
            by_customer: HashMap::new(),
            names: vec![String::new()],
            index: HashMap::new(),
        }
    }
}

impl PreviousClasses {
    /// Adds one stored profile's classes (in [`ClassKind`] order).
    pub fn insert(&mut self, customer_id: i64, classes: [Option<String>; 8]) {
        let codes = classes.map(|c| match c {
            None => 0,
            Some(name) => match self.index.get(&name) {
                Some(i) => *i,
                None => {
                    let i = self.names.len() as u16;
                    self.names.push(name.clone());
                    self.index.insert(name, i);
                    i
                }
            },
        });
        self.by_customer.insert(customer_id, codes);
    }

    fn expand(&self, codes: &[u16; 8]) -> [Option<String>; 8] {
        codes.map(|i| (i > 0).then(|| self.names[i as usize].clone()))
    }

    /// The changes of one profile of the new build (its customer is then no longer
    /// "gone").
    pub fn changes(&mut self, p: &ProfileRow, out: &mut Vec<ClassChange>) {
        let before = self.by_customer.remove(&p.customer_id).map(|c| self.expand(&c));
        out.extend(
            transitions(before.as_ref(), Some(&p.classes)).map(|(kind, from, to)| ClassChange {
                customer_id: p.customer_id,
                kind,
                from: from.map(str::to_string),
                to: to.map(str::to_string),
            }),
        );
    }

    /// The changes of the customers the new build no longer has (every class to none),
    /// by customer id.
    pub fn gone(&mut self, out: &mut Vec<ClassChange>) {
        let mut gone: Vec<(i64, [u16; 8])> = std::mem::take(&mut self.by_customer).into_iter().collect();
        gone.sort_unstable_by_key(|(id, _)| *id);
        for (customer_id, codes) in gone {
            let before = self.expand(&codes);
            out.extend(transitions(Some(&before), None).map(|(kind, from, to)| ClassChange {
                customer_id,
                kind,
                from: from.map(str::to_string),
                to: to.map(str::to_string),
            }));
        }
    }
}

/// A saved segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSegment {
    pub name: String,
    pub description: String,
    /// The canonical text of the expression.
    pub expression: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A customer in a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentMember {
    pub id: i64,
    pub source: String,
    pub external_id: String,
    pub name: Option<String>,
}

/// Per node of an expression ([`crate::segment::nodes`] order): how many match it alone,
/// and whether it held for the customer asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentPlan {
    pub counts: Vec<u64>,
    pub held: Option<Vec<bool>>,
}

/// Two customers who look like one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeProposal {
    pub a: i64,
    pub b: i64,
    /// "mobile" or "email".
    pub via: String,
    pub value: String,
}

/// What a merge changed on the kept customer: its consent before and after and the
/// contacts it copied, so that unmerge can restore exactly what the merge set (and
/// nothing changed since).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeChange {
    pub before: Vec<guanxi_domain::Consent>,
    pub after: Vec<guanxi_domain::Consent>,
    /// Contact groups copied from the merged customer (`mobile_raw`, `email_raw`, …).
    #[serde(default)]
    pub filled: Vec<String>,
}

impl MergeChange {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(s: &str) -> Result<MergeChange, String> {
        serde_json::from_str(s).map_err(|e| format!("a merge record: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_list_changed_kinds_only() {
        let c = |v: [&str; 8]| v.map(|s| (!s.is_empty()).then(|| s.to_string()));
        let old = c(["repeat", "active", "formation", "", "", "small", "一般发展", "New"]);
        let new = c(["loyal", "active", "stability", "", "", "small", "一般发展", "New"]);
        let t: Vec<_> = transitions(Some(&old), Some(&new)).collect();
        assert_eq!(
            t,
            vec![
                ("relationship", Some("repeat"), Some("loyal")),
                ("lifecycle", Some("formation"), Some("stability"))
            ]
        );
        assert_eq!(transitions(None, Some(&new)).count(), 6);
        assert_eq!(transitions(Some(&old), Some(&old)).count(), 0);
    }
}

/// What the pages show of a build, computed once as the build is stored: the totals per
/// class and the CLV distribution over its profiles, and the satisfaction as of its
/// moment. The dashboard and the class reports read these instead of scanning every
/// profile per view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildFigures {
    pub class_totals: Vec<ClassTotal>,
    pub clv: Vec<ClvBucket>,
    pub satisfaction: Satisfaction,
}

impl BuildFigures {
    /// As the builds table keeps them.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("figures are plain data")
    }

    pub fn from_json(text: &str) -> crate::Result<BuildFigures> {
        serde_json::from_str(text).map_err(|e| crate::StoreError::Corrupt(format!("a build's figures: {e}")))
    }
}

/// Totals per class and CLV bucket, added up one profile row at a time.
#[derive(Debug, Default)]
pub struct FigureSums {
    /// (kind, class) → customers, paid, profit, CLV.
    classes: HashMap<(usize, String), (u64, i64, i64, i64)>,
    /// Per bucket of [`CLV_BUCKETS`]: customers with a forecast, their CLV.
    clv: [(u64, i64); CLV_BUCKETS.len()],
}

impl FigureSums {
    pub fn add(&mut self, row: &ProfileRow) {
        for (k, class) in row.classes.iter().enumerate() {
            if let Some(class) = class {
                let t = self.classes.entry((k, class.clone())).or_default();
                t.0 += 1;
                t.1 += row.paid_amount_cents;
                t.2 += row.profit_cents;
                t.3 += row.clv_cents.unwrap_or(0);
            }
        }
        if let Some(clv) = row.clv_cents {
            // Negative CLVs (not produced by the models) count with the first bucket.
            let bucket = CLV_BUCKETS.iter().rposition(|from| clv >= *from).unwrap_or(0);
            self.clv[bucket].0 += 1;
            self.clv[bucket].1 += clv;
        }
    }

    /// The figures: classes by kind name, then most customers first, then class name
    /// (the order the class reports show).
    pub fn finish(self, satisfaction: Satisfaction) -> BuildFigures {
        let mut class_totals: Vec<ClassTotal> = self
            .classes
            .into_iter()
            .map(|((k, class), (customers, paid, profit, clv))| ClassTotal {
                kind: ClassKind::ALL[k].as_str().to_string(),
                class,
                customers,
                paid_amount_cents: paid,
                profit_cents: profit,
                clv_cents: clv,
            })
            .collect();
        class_totals.sort_by(|a, b| {
            (a.kind.as_str(), std::cmp::Reverse(a.customers), a.class.as_str()).cmp(&(
                b.kind.as_str(),
                std::cmp::Reverse(b.customers),
                b.class.as_str(),
            ))
        });
        let clv = CLV_BUCKETS
            .iter()
            .enumerate()
            .map(|(i, &from)| ClvBucket {
                from_cents: from,
                to_cents: CLV_BUCKETS.get(i + 1).copied(),
                customers: self.clv[i].0,
                clv_cents: self.clv[i].1,
            })
            .collect();
        BuildFigures {
            class_totals,
            clv,
            satisfaction,
        }
    }
}
