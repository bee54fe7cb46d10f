//! The store: guanxi's system of record, behind one trait with two implementations.
//!
//! Design (after atuin's `atuin-server-database`):
//! - [`Store`] is what the engine, importers and CLI are written against. The binary picks
//!   the backend from the URL at start-up (`guanxi-store-sqlite` for a file, the embedded
//!   default; `guanxi-store-postgres` for `postgres://…`, many instances) and holds an
//!   `Arc<dyn Store>`.
//! - Writes go through a [`StoreTx`], one database transaction: an import either commits
//!   whole or leaves the store as it was.
//! - Upserts are keyed by external id (source + id) and compare a content fingerprint, so
//!   that re-importing the same file reports every order "unchanged" and writes nothing.
//! - Both backends run the same SQL logic, written once in [`sql_store!`] and instantiated
//!   for each concrete sqlx database, so they cannot drift; each backend owns its DDL
//!   (`migrations/`) and its connection set-up.
//! - With the `testsuite` feature, [`testsuite`] holds the story tests every backend runs.
//!
//! Money is integer cents, times are UTC `timestamptz` (PostgreSQL) or RFC 3339 text
//! (SQLite), integers are 64-bit everywhere so that both decode to the same Rust types.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guanxi_domain::catalogue::{Catalogue, KeywordRule, Product};
use guanxi_domain::segment::Expr;
use guanxi_domain::{Customer, CustomerKey, Order, Review, ServiceRecord};
use serde::Serialize;

#[cfg(feature = "testsuite")]
pub mod testsuite;

mod access;
mod campaigns;
pub mod coupons;
mod history;
mod merges;
mod orders;
pub mod outbox;
pub mod points;
mod profile_columns;
mod profiles;
mod records;
pub mod segment;
#[doc(hidden)]
pub mod sql;
#[doc(hidden)]
pub mod sql_access;
#[doc(hidden)]
pub mod sql_builds;
pub mod sql_campaigns;
pub mod sql_coupons;
#[doc(hidden)]
pub mod sql_merges;
#[doc(hidden)]
pub mod sql_orders;
#[doc(hidden)]
pub mod sql_outbox;
pub mod sql_points;
#[doc(hidden)]
pub mod sql_records;
#[doc(hidden)]
pub mod sql_segments;
#[doc(hidden)]
pub mod sql_write;
pub mod tables;

pub use access::{Access, ApiToken, Audited, NewToken, Session, User};
pub use campaigns::{CampaignMember, CampaignOrder, CampaignTouch, Campaigns, StoredCampaign};
pub use coupons::{CouponFilter, Coupons, NewCoupon};
pub use history::{History, HistoryMessage, HistoryOrder, HistoryReview, HistoryService, Search};
pub use merges::Merges;
pub use orders::Orders;
pub use outbox::{
    Claimed, Entry, EventCursor, MessageCount, NewAction, NewMessage, OrderEvents, Outbox, Plan, ProgramState,
    Recipient, SentMessage, Settle, StepArm, Task,
};
pub use points::{Appended, LotSum, NewPoints, Points, PointsAction, PointsOrder, PostedPoints};
pub use profile_columns::{COLUMNS_SQL, ColumnRow, HeldColumns, ListedProfile, ProfileColumns};
pub use profiles::Builds;
pub use profiles::{
    BuildFigures, BuildRecord, CLV_BUCKETS, ClassChange, ClassTotal, ClvBucket, FigureSums, MergeChange, MergeProposal,
    Movement, PreviousClasses, ProfileRow, Satisfaction, SavedSegment, SegmentMember, SegmentPlan, Transition,
    class_columns, transitions,
};
pub use records::Records;
pub use segment::Segments;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The rows of a build as a store writes them: made as they are read, so that a
/// million profiles are never held together as rows.
pub trait BuildRows: Send {
    fn next_row(&mut self) -> Option<ProfileRow>;
    /// Asked once the last row was read: the build's summary (`None`: the record's), or
    /// why the rows could not all be made — the build is then not stored.
    fn finish(&mut self) -> std::result::Result<Option<String>, String>;
}

/// Rows already made: the record's summary stands.
impl<I: Iterator<Item = ProfileRow> + Send> BuildRows for I {
    fn next_row(&mut self) -> Option<ProfileRow> {
        self.next()
    }

    fn finish(&mut self) -> std::result::Result<Option<String>, String> {
        Ok(None)
    }
}

/// A store failure. Every variant has a stable [`StoreError::code`]; the message names the
/// location or record it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {location}: {message}")]
    Open { location: String, message: String },
    #[error("cannot bring the store's schema up to date: {0}")]
    Migrate(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("the store holds a value it cannot read ({0}); was it written by a newer guanxi?")]
    Corrupt(String),
    /// A request the store's records refuse (unknown customer, merge of a merged one…).
    #[error("{0}")]
    Refused(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "store_open",
            StoreError::Migrate(_) => "store_migrate",
            StoreError::Database(_) => "store_database",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::Refused(_) => "store_refused",
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How many of each record the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub customers: u64,
    pub orders: u64,
    pub order_lines: u64,
    pub service_records: u64,
    pub reviews: u64,
    pub messages: u64,
}

/// What an upsert did to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Inserted,
    Updated,
    Unchanged,
}

/// An order as the store knows it: the record plus its internal ids and revision.
/// `revision` starts at 1 and grows with every update, so that a copy of the order kept
/// elsewhere (the Parquet lake) can tell its newest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub id: i64,
    /// `None` for a guest order.
    pub customer_id: Option<i64>,
    pub revision: i64,
    pub order: Order,
}

/// The result of upserting a batch of orders, aligned with the input.
#[derive(Debug, Default)]
pub struct OrdersUpserted {
    pub outcomes: Vec<Outcome>,
    /// The stored form of each inserted or updated order (unchanged ones are left out).
    pub written: Vec<StoredOrder>,
    /// Customers first met in this batch (created bare, keyed by the order's buyer).
    pub customers_inserted: u64,
}

/// The result of upserting a batch of records other than orders.
#[derive(Debug, Default)]
pub struct Upserted {
    pub outcomes: Vec<Outcome>,
    pub customers_inserted: u64,
}

/// One import, as kept in the store's history (and later its audit trail).
#[derive(Debug, Clone, Serialize)]
pub struct ImportRecord {
    pub kind: String,
    pub format: String,
    pub files: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The import's summary as JSON, as printed by `guanxi import --json`.
    pub summary: String,
}

/// The statements of [`StoreTx::erase_customer`]: `{1}` stands for the anonymous id and
/// `{2}` for the customer id, each driver writing its own placeholders (a statement
/// without `{1}` is given the customer id alone).
pub const ERASE_CUSTOMER: [&str; 6] = [
    "UPDATE customers SET external_id = {1}, name = NULL, gender = NULL, birthday = NULL, city = NULL, \
     phone = NULL, mobile_raw = NULL, mobile = NULL, email_raw = NULL, email = NULL, qq = NULL, wechat = NULL, \
     credit_level = NULL, source_channel = NULL, preferred_style = NULL, preferred_brand = NULL, content_hash = 0 \
     WHERE id = {2}",
    "DELETE FROM customer_identities WHERE customer_id = {2}",
    "DELETE FROM customer_tags WHERE customer_id = {2}",
    "DELETE FROM customer_consents WHERE customer_id = {2}",
    "UPDATE service_records SET note = NULL WHERE customer_id = {2}",
    "UPDATE reviews SET text = NULL WHERE customer_id = {2}",
];

/// One delivery of an event from a shop (a webhook, a middleware's event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedEvent {
    /// Who sent it: `shopify`, or the source a signed event names.
    pub source: String,
    /// The sender's id of the delivery (`X-Shopify-Event-Id`, the event's `id`).
    pub event_id: String,
    pub topic: String,
    pub received_at: DateTime<Utc>,
    /// For an order's delivery: the platform's id of the order and the order's external
    /// id (its key), so that a later delivery naming the order by the platform's id only
    /// (a Shopify refund) finds it.
    pub order: Option<(String, String)>,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// A profiled customer: the record and the current profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfiledCustomer {
    pub id: i64,
    pub customer: Customer,
    pub profile: ProfileRow,
}

/// The system of record. See the crate docs.
#[async_trait]
pub trait Store:
    Outbox + Access + Campaigns + Points + Coupons + Segments + Merges + Builds + Records + Orders + Send + Sync
{
    fn backend(&self) -> Backend;

    /// Starts a transaction for writes.
    async fn begin(&self) -> Result<Box<dyn StoreTx>>;

    async fn counts(&self) -> Result<Counts>;

    async fn customer(&self, key: &CustomerKey) -> Result<Option<(i64, Customer)>>;

    async fn customer_by_id(&self, id: i64) -> Result<Option<Customer>>;

    /// The product catalogue: every product and the keyword rules in their order.
    async fn catalogue(&self) -> Result<Catalogue>;

    async fn setting(&self, key: &str) -> Result<Option<String>>;

    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;

    async fn imports(&self) -> Result<Vec<ImportRecord>>;

    /// Each person's standing for the profile build (customers merged into another are
    /// left out): id, has contact details, tags.
    async fn standings(&self) -> Result<Vec<(i64, bool, Vec<String>)>>;

    /// Customers whose id, external id, mobile number or email is the search text, or
    /// whose name starts with it (merged-away records excluded), at most `limit`, by id.
    async fn search_customers(&self, search: &Search, limit: u32) -> Result<Vec<SegmentMember>>;

    /// One customer's orders, service records, reviews and messages (with those of the
    /// customers merged into them), newest first, at most `limit` of each.
    async fn customer_history(&self, customer_id: i64, limit: u32) -> Result<History>;

    /// Profiled customers matching `expr` (every profiled customer when `None`) with
    /// `id > after_id`, in id order, at most `limit`: each with the customer's record
    /// (contacts, consent, tags) and the current profile — what an export writes.
    async fn profiled_customers(
        &self,
        expr: Option<&Expr>,
        as_of: DateTime<Utc>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ProfiledCustomer>>;

    /// The audit trail of one subject (`customer:42`), oldest first.
    async fn audit_trail(&self, subject: &str) -> Result<Vec<AuditEntry>>;

    /// The id of a customer by its key, also through merged identities.
    async fn customer_id(&self, key: &CustomerKey) -> Result<Option<i64>>;
}

/// A write transaction. Dropping it without [`StoreTx::commit`] rolls it back.
#[async_trait]
pub trait StoreTx: Send {
    /// Inserts new orders, replaces changed ones (lines included), skips unchanged ones.
    /// Buyers not yet known are created as bare customers. External ids in one batch
    /// must be distinct.
    async fn upsert_orders(&mut self, orders: &[Order]) -> Result<OrdersUpserted>;

    async fn upsert_customers(&mut self, customers: &[Customer]) -> Result<Upserted>;

    async fn upsert_service_records(&mut self, records: &[ServiceRecord]) -> Result<Upserted>;

    async fn upsert_reviews(&mut self, reviews: &[Review]) -> Result<Upserted>;

    /// Inserts new products and replaces changed ones, by SKU (distinct in one batch).
    async fn upsert_products(&mut self, products: &[Product]) -> Result<Upserted>;

    /// Replaces the catalogue's keyword rules with `rules`, in their order.
    async fn replace_keywords(&mut self, rules: &[KeywordRule]) -> Result<()>;

    async fn record_import(&mut self, record: &ImportRecord) -> Result<()>;

    /// Records a delivery of an event from a shop; `false` when this delivery (its source
    /// and id) was recorded before, in which case the caller applies nothing.
    async fn record_event(&mut self, event: &ReceivedEvent) -> Result<bool>;

    /// Holds `key` (an order's key, say) until this transaction ends: another transaction
    /// asking for the same key waits, so that two instances applying events to one order
    /// do not each merge with the state before the other's. (SQLite's write transaction
    /// is already the only one; PostgreSQL takes a transaction-level advisory lock.)
    async fn hold(&mut self, key: &str) -> Result<()>;

    /// Erases customer `id`'s personal data (a privacy erasure): the record keeps its id,
    /// and with it its orders' money for the books, but its key becomes `anonymous_id`,
    /// its name, contacts, birthday, city and the like are emptied, its tags, consents and
    /// other identities go, and its service notes and review texts are emptied. Its
    /// orders are the caller's to rewrite (their city, in the store and the lake).
    async fn erase_customer(&mut self, id: i64, anonymous_id: &str) -> Result<()>;

    async fn commit(self: Box<Self>) -> Result<()>;

    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Sorts a batch's records into new, changed and unchanged against what the store holds
/// (`existing`: key → (internal id, fingerprint)). Shared by every upsert of every
/// backend, so "unchanged" means one thing.
pub fn classify<'a, T, K: std::hash::Hash + Eq>(
    records: &'a [T],
    key: impl Fn(&'a T) -> K,
    fingerprint: impl Fn(&T) -> i64,
    existing: &HashMap<K, (i64, i64)>,
) -> Vec<(Outcome, i64, &'a T)> {
    records
        .iter()
        .map(|r| {
            let fp = fingerprint(r);
            let outcome = match existing.get(&key(r)) {
                None => Outcome::Inserted,
                Some(&(_, old)) if old == fp => Outcome::Unchanged,
                Some(_) => Outcome::Updated,
            };
            (outcome, fp, r)
        })
        .collect()
}
