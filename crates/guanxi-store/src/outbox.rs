//! The engagement part of the store: programs, their segment entries, and the outbox.
//!
//! The `messages` table is the outbox and the send ledger at once. A scheduler decides what
//! is due and writes the rows in one transaction ([`Outbox::apply`]); the ledger key is
//! unique, so the same touch is never queued twice. Workers [`Outbox::claim`] due rows for a
//! lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so many workers never take the same row),
//! send, and [`Outbox::settle`] them. A worker that dies leaves its rows claimed until the
//! lease ends; another then sends them again with the same idempotency key (the ledger
//! key), which the provider uses to drop the repeat.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guanxi_domain::program::{ContactFacts, Priority};
use guanxi_domain::{Channel, ConsentState, MessageStatus};
use serde::Serialize;

use crate::Result;

/// A program as the store keeps it: its definition and whether it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramState {
    pub name: String,
    /// The definition's TOML.
    pub definition: String,
    pub enabled: bool,
    /// Triggers at or after this moment start runs; nothing before it (enabling a program
    /// does not message a shop's whole history).
    pub since: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A message to queue: one step of one run for one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub ledger_key: String,
    pub customer_id: i64,
    pub channel: Channel,
    pub program: String,
    pub step: String,
    pub template: String,
    pub priority: Priority,
    pub order_id: Option<i64>,
    pub due_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A step that is not a message: a tag to add or remove (applied when written), a service
/// task, a coupon or points (recorded for the membership layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    pub ledger_key: String,
    pub customer_id: i64,
    pub program: String,
    pub step: String,
    /// `add-tag`, `remove-tag`, `task`, `coupon`, `benefit`, `points`, or `holdout` (a campaign's
    /// held-out member, recorded for a wave: nothing is sent).
    pub action: &'static str,
    pub detail: String,
    pub due_at: DateTime<Utc>,
}

/// A customer's run in a segment-triggered program, from their entry into the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub program: String,
    pub customer_id: i64,
    /// When the run starts: the entry, spread over the program's days.
    pub started_at: DateTime<Utc>,
    /// The run's part of the ledger key.
    pub occurrence: String,
}

/// What one scheduler pass decided, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub messages: Vec<NewMessage>,
    pub actions: Vec<NewAction>,
    /// Customers now in a program's segment: their runs.
    pub entered: Vec<Entry>,
    /// (program, customer) no longer in it.
    pub left: Vec<(String, i64)>,
    /// The coupons the plan's `coupon` and `benefit` actions issue, each with its
    /// action's ledger key: issued with the action, so once.
    pub coupons: Vec<(String, crate::NewCoupon)>,
    pub at: Option<DateTime<Utc>>,
}

/// A queued message taken by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub ledger_key: String,
    pub customer_id: i64,
    pub channel: Channel,
    pub program: String,
    pub step: String,
    pub template: String,
    pub priority: Priority,
    pub order_id: Option<i64>,
    pub due_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub attempts: i64,
}

/// How a worker leaves a claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    Sent {
        at: DateTime<Utc>,
    },
    /// Held by the contact policy (the hold named) until then.
    Deferred {
        until: DateTime<Utc>,
        reason: String,
    },
    /// Will never go (the refusal named).
    Dropped {
        at: DateTime<Utc>,
        reason: String,
    },
    /// The send failed; try again then.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// The send failed for the last time: dead-lettered with the error.
    Dead {
        at: DateTime<Utc>,
        error: String,
    },
}

/// What the contact policy and the templates need to know of one customer, read at the
/// moment of sending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub customer_id: i64,
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub wechat: Option<String>,
    pub consents: Vec<(Channel, ConsentState)>,
    pub open_complaint: bool,
    pub tolerance_per_week: Option<u16>,
    /// Messages sent to them per channel: (channel, today, last 7 days).
    pub sent: Vec<(Channel, u32, u32)>,
}

impl Recipient {
    /// Where a message on `channel` goes: a mobile number, email address or WeChat id.
    /// Webhooks go to the shop's own endpoint and name the customer by id.
    pub fn address(&self, channel: Channel) -> Option<String> {
        match channel {
            Channel::Sms => self.mobile.clone(),
            Channel::Email => self.email.clone(),
            Channel::Wechat => self.wechat.clone(),
            Channel::Webhook => Some(self.customer_id.to_string()),
        }
    }

    /// The contact policy's facts for a message on `channel`.
    pub fn facts(&self, channel: Channel) -> ContactFacts {
        let on = |c: Channel| self.sent.iter().filter(move |s| s.0 == c);
        ContactFacts {
            consent: self.consents.iter().find(|c| c.0 == channel).map(|c| c.1),
            reachable: self.address(channel).is_some(),
            open_complaint: self.open_complaint,
            tolerance_per_week: self.tolerance_per_week,
            sent_week: self.sent.iter().map(|s| s.2).sum(),
            sent_today_channel: on(channel).map(|s| s.1).sum(),
            sent_today: self.sent.iter().map(|s| s.1).sum(),
        }
    }

    /// Counts a message just sent, so that the next one in the same batch sees it.
    pub fn count_sent(&mut self, channel: Channel) {
        match self.sent.iter_mut().find(|s| s.0 == channel) {
            Some(s) => {
                s.1 += 1;
                s.2 += 1;
            }
            None => self.sent.push((channel, 1, 1)),
        }
    }
}

/// Messages per program, step, channel and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageCount {
    pub program: String,
    pub step: String,
    pub channel: Channel,
    pub status: MessageStatus,
    pub count: u64,
}

/// A service task a program step created for staff (docs/domain.md §5: "parcel not moving for
/// 72 hours: call the carrier"), open until someone closes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Task {
    /// The send ledger's key: the task's identity (a step's task is created once).
    pub key: String,
    pub customer_id: i64,
    pub customer_external_id: String,
    pub customer_name: Option<String>,
    pub program: String,
    pub step: String,
    /// What to do, as the program says it.
    pub task: String,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

/// One run's step of a program with a holdout, either arm: a message queued for it (sent
/// or not: every customer the step was meant for) or a held-out customer's record, with
/// the customer's first paid order after the step fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepArm {
    pub step: String,
    pub held: bool,
    pub due_at: DateTime<Utc>,
    pub next_paid_at: Option<DateTime<Utc>>,
}

/// A sent message with the first paid order of its customer after it (for conversion
/// within an attribution window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub program: String,
    pub step: String,
    pub sent_at: DateTime<Utc>,
    pub clicked: bool,
    pub next_paid_at: Option<DateTime<Utc>>,
}

/// An order's event times, as the scheduler reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvents {
    pub id: i64,
    pub external_id: String,
    pub customer_id: i64,
    pub created_at: DateTime<Utc>,
    pub times: guanxi_domain::StatusTimes,
}

/// Where a page of [`Outbox::orders_by_event`] ended: the last order's event time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

/// Programs and the outbox. Every backend implements it with the shared SQL.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Creates or replaces a program's state, audited under `actor`.
    async fn save_program(&self, program: &ProgramState, actor: &str) -> Result<()>;

    async fn programs(&self) -> Result<Vec<ProgramState>>;

    /// Writes a scheduler pass in one transaction: entries, exits, messages and actions
    /// (tags applied at once). Those whose ledger key is already there are skipped (never
    /// twice); returns how many messages were queued.
    async fn apply(&self, plan: &Plan) -> Result<u64>;

    /// Service tasks, at most `limit`: the open ones, the earliest due first, then with
    /// `all` the closed ones, the last closed first; of one customer or of every customer.
    async fn tasks(&self, all: bool, customer_id: Option<i64>, limit: u32) -> Result<Vec<Task>>;

    /// Closes an open task, audited under `actor` on the customer: the task's text, or
    /// none when no open task has this key (closed already, or never created).
    async fn close_task(&self, key: &str, at: DateTime<Utc>, actor: &str) -> Result<Option<String>>;

    /// Actions recorded per program, step and action: (program, step, action, count).
    async fn action_counts(&self, program: Option<&str>) -> Result<Vec<(String, String, String, u64)>>;

    /// Which of these ledger keys are already in the ledger (messages and actions).
    async fn ledger_has(&self, keys: &[String]) -> Result<HashSet<String>>;

    /// The customers in a segment-triggered program's segment, as last recorded, with
    /// their runs.
    async fn entries(&self, program: &str) -> Result<Vec<Entry>>;

    /// Orders whose `event` (a column: `created_at`, `paid_at`, `shipped_at`…) happened in
    /// `[from, to]`, by event time then id: at most `limit` past `after` (the cursor the
    /// previous page ended at), and the cursor this page ends at. Paged by the event's
    /// index, not by id: a page by id seeks the newest orders by scanning the table from
    /// its oldest (0.85 s at 10M orders, at every pass).
    async fn orders_by_event(
        &self,
        event: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<EventCursor>,
        limit: u32,
    ) -> Result<(Vec<OrderEvents>, Option<EventCursor>)>;

    async fn order_events(&self, ids: &[i64]) -> Result<HashMap<i64, OrderEvents>>;

    /// The lines of these orders as (title, or SKU when untitled; quantity), in line order.
    async fn order_items(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<(String, u32)>>>;

    /// Customers who entered `class` of `kind` in a build made as of `[from, to]`, with the
    /// build id. Kind `tier`: who entered tier `class` in `[from, to]`, with the change's
    /// moment (Unix seconds) in the build id's place; kind `tier-warning`: who was warned
    /// then of losing tier `class`, with the evaluation's moment.
    async fn entered_class(
        &self,
        kind: &str,
        class: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64, DateTime<Utc>)>>;

    /// Paid orders of these customers paid after `since`: (customer, paid_at).
    async fn paid_since(&self, customer_ids: &[i64], since: DateTime<Utc>) -> Result<Vec<(i64, DateTime<Utc>)>>;

    /// Customers (not merged away) whose birthday is this month and day.
    async fn birthdays(&self, month: u32, day: u32) -> Result<Vec<i64>>;

    /// Takes up to `limit` queued messages due by `due_by` (the scheduling clock, which a
    /// replay may set) and not held by another worker at `now` (the wall clock), highest
    /// priority first, until `now + lease`; the caller settles each.
    async fn claim(
        &self,
        worker: &str,
        due_by: DateTime<Utc>,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<Claimed>>;

    /// What the policy and templates need of these customers, read now: counts of messages
    /// sent since `today` (the shop's day start) and since `week`.
    async fn recipients(
        &self,
        customer_ids: &[i64],
        today: DateTime<Utc>,
        week: DateTime<Utc>,
    ) -> Result<HashMap<i64, Recipient>>;

    /// Leaves claimed messages as decided, in one transaction.
    async fn settle(&self, settled: &[(i64, Settle)]) -> Result<()>;

    /// Messages counted by program, step, channel and status (`program` None: all).
    async fn message_counts(&self, program: Option<&str>) -> Result<Vec<MessageCount>>;

    /// Sent messages of a program, for conversions.
    async fn sent_messages(&self, program: &str) -> Result<Vec<SentMessage>>;

    /// Both arms of a program's steps (its messages and its holdout records), for the
    /// steps' lift.
    async fn step_arms(&self, program: &str) -> Result<Vec<StepArm>>;

    /// A provider's delivery receipt for the message with this ledger key: delivered, or
    /// failed with the provider's reason. False when no sent message has the key.
    async fn record_receipt(&self, ledger_key: &str, delivered: bool, at: DateTime<Utc>, detail: &str) -> Result<bool>;

    /// Records a click on a tracked link; false when there is no such sent message.
    async fn record_click(&self, message_id: i64, at: DateTime<Utc>) -> Result<bool>;

    /// The customer withdraws consent on the message's channel through its unsubscribe
    /// link; recorded with time and source, audited. Returns the customer.
    async fn unsubscribe(&self, message_id: i64, at: DateTime<Utc>) -> Result<Option<i64>>;

    /// A reply (回复TD退订) reported by a gateway: every customer with this normalised
    /// mobile number withdraws consent on `channel`, with `evidence`. Returns them.
    async fn opt_out(&self, channel: Channel, mobile: &str, at: DateTime<Utc>, evidence: &str) -> Result<Vec<i64>>;
}

/// A priority as stored: 0 transactional, 1 care, 2 marketing (workers take lower first).
pub fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Transactional => 0,
        Priority::Care => 1,
        Priority::Marketing => 2,
    }
}

pub fn priority_from_rank(rank: i64) -> std::result::Result<Priority, String> {
    match rank {
        0 => Ok(Priority::Transactional),
        1 => Ok(Priority::Care),
        2 => Ok(Priority::Marketing),
        other => Err(format!("message priority {other}")),
    }
}
