//! Membership: each member's points ledger — the events as posted and the movements they
//! made (`guanxi_domain::points`; the store only appends, a balance is a sum) — and their
//! tier changes and warnings (`guanxi_domain::tier`). Every backend implements
//! [`Points`] with the shared SQL (`sql_points.rs`).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guanxi_domain::points::{Event, Key, Movement};
use guanxi_domain::tier::{Change, Paid, Warning};
use serde::Serialize;

use crate::Result;

/// An event as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostedPoints {
    /// Its place in the ledger: events are replayed in this order.
    pub id: i64,
    pub customer_id: i64,
    pub key: Key,
    pub at: DateTime<Utc>,
    pub event: Event,
    pub actor: String,
}

/// What became of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Appended {
    Posted,
    /// The key was posted before: nothing changed.
    Replayed,
    /// Another event of the member was posted since they were read: read again, retry.
    Conflict,
}

/// The movements of one member's lot (or, `lot` `None`, their debt), summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotSum {
    pub customer_id: i64,
    pub lot: Option<Key>,
    pub points: i64,
}

/// An order as points see it: who it counts for (the customer it was merged into, if
/// any), what was paid and refunded, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointsOrder {
    pub id: i64,
    pub customer_id: i64,
    pub source: String,
    pub external_id: String,
    pub paid_at: Option<DateTime<Utc>>,
    pub paid_cents: i64,
    pub refunded_at: Option<DateTime<Utc>>,
    pub refund_cents: i64,
}

/// A program step that gives points, as the scheduler decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointsAction {
    pub ledger_key: String,
    pub customer_id: i64,
    pub program: String,
    pub step: String,
    /// The step's points (its action's detail, as written).
    pub points: String,
    pub due_at: DateTime<Utc>,
}

/// An event to append to a member's ledger, with the movements it made.
#[derive(Debug, Clone)]
pub struct NewPoints<'a> {
    pub customer_id: i64,
    /// The member's last event when they were read (`None`: they had none).
    pub last: Option<i64>,
    pub key: &'a Key,
    pub at: DateTime<Utc>,
    pub event: &'a Event,
    pub movements: &'a [Movement],
    pub actor: &'a str,
}

#[async_trait]
pub trait Points: Send + Sync {
    /// Orders paid or refunded in `[from, to)` with an id above `after`, in id order, at
    /// most `limit`: what earnings and take-backs are posted from.
    async fn points_orders(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<PointsOrder>>;

    /// A member's events in the order posted.
    async fn points_events(&self, customer_id: i64) -> Result<Vec<PostedPoints>>;

    /// Appends an event and the movements it made, in one transaction, provided the
    /// member's last event is still the one it was posted after.
    async fn append_points(&self, new: &NewPoints<'_>) -> Result<Appended>;

    /// Appends events posted elsewhere in order — an opening balance migrated from
    /// another system, the benchmark's ledger — without the check for events in between
    /// (the caller posted each member's events through one `Account`, from none); a key
    /// already posted is skipped with its movements. Returns the events appended.
    async fn append_points_batch(&self, batch: &[NewPoints<'_>]) -> Result<u64>;

    /// Which of these (member, key) pairs were posted.
    async fn points_posted(&self, keys: &[(i64, Key)]) -> Result<HashSet<(i64, Key)>>;

    /// Balances (the sum of each member's movements) of the members with an id above
    /// `after`, in id order, at most `limit` members.
    async fn points_balances(&self, after: i64, limit: u32) -> Result<Vec<(i64, i64)>>;

    /// For a proof of the balances: the events of the members with an id in
    /// `(after, upto]`, in order, and their movements summed per lot.
    async fn points_ledger(&self, after: i64, upto: i64) -> Result<(Vec<PostedPoints>, Vec<LotSum>)>;

    /// The members with points events whose id is above `after`, in id order, at most
    /// `limit`: how a proof pages through the ledger.
    async fn points_members(&self, after: i64, limit: u32) -> Result<Vec<i64>>;

    /// The paid orders (net of refunds) of the next `limit` people with a paid order
    /// whose id is above `after` (a merged customer's orders count for the person they
    /// were merged into), by person then time: what tiers follow from.
    async fn member_orders(&self, after: i64, limit: u32) -> Result<Vec<(i64, Paid)>>;

    /// Records tier changes and warnings, each with the name of the tier it is about (the
    /// new one; the one a warning says will be lost) and each once (a re-run recomputes
    /// the same ones); returns how many of each were new.
    async fn record_tiers(
        &self,
        changes: &[(i64, Change, String)],
        warnings: &[(i64, Warning, String)],
        at: DateTime<Utc>,
    ) -> Result<(u64, u64)>;

    /// A member's recorded tier changes, oldest first.
    async fn tier_changes(&self, customer_id: i64) -> Result<Vec<Change>>;

    /// Program steps that give points (`action = { points = N }`) not yet posted to the
    /// ledger, with a ledger key above `after`, in key order, at most `limit`.
    async fn points_actions(&self, after: &str, limit: u32) -> Result<Vec<PointsAction>>;

    /// Marks program steps' points as posted.
    async fn points_actions_done(&self, keys: &[String], at: DateTime<Utc>) -> Result<()>;

    /// The tier (its name) each of these members is in by their latest recorded change;
    /// members with none are left out.
    async fn current_tiers(&self, ids: &[i64]) -> Result<Vec<(i64, String)>>;
}

/// An event as the ledger's `event` column holds it (for the SQL of every backend).
#[doc(hidden)]
pub fn event_text(event: &Event) -> String {
    serde_json::to_string(event).expect("an event is plain data")
}

/// An event read back from the ledger's `event` column.
#[doc(hidden)]
pub fn event_of(text: &str) -> std::result::Result<Event, serde_json::Error> {
    serde_json::from_str(text)
}
