//! Dry runs: replay history as if a program had been enabled, before anything is. Who
//! would have entered, how many messages per day and channel, and what the contact policy
//! would have deferred or dropped. Nothing is written.
//!
//! The runs are exact for order and class-change triggers and birthdays (their events are
//! recorded); a segment's members are today's (profiles are kept for the latest build
//! only), entering at the start of the window. Consent, addresses and open complaints are
//! today's; caps and quiet hours are simulated over the replayed sends.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use guanxi_domain::profile::Settings;
use guanxi_domain::program::Verdict;
use guanxi_domain::{Channel, ShopTz};
use guanxi_store::{NewMessage, Recipient, Store};
use serde::Serialize;

use crate::EngageError;
use crate::schedule::{Loaded, Mode, Scheduler};

/// A dry run's answer.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub program: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Runs started in the window (orders, class changes, birthdays, segment entries).
    pub runs: u64,
    /// Distinct customers with at least one message due.
    pub customers: u64,
    /// Messages due.
    pub messages: u64,
    /// Messages that would have been sent, per day (shop time) and channel.
    pub per_day: Vec<DayCount>,
    pub sent: u64,
    /// Messages held at least once (then sent later or dropped), by the first hold.
    pub deferred: BTreeMap<String, u64>,
    /// Messages that would never have gone, by reason.
    pub dropped: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub day: NaiveDate,
    pub channel: Channel,
    pub messages: u64,
}

/// Replays `program` over `[from, to]`.
pub async fn dry_run(
    store: &dyn Store,
    settings: &Settings,
    tz: ShopTz,
    program: &Loaded,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<DryRun, EngageError> {
    let policy = &settings.contact;
    let scheduler = Scheduler {
        store,
        policy,
        tz,
        columns: None,
        coupons: &settings.coupons,
        tiers: &settings.tiers,
    };
    let (plan, planned) = scheduler.plan_window(program, from, from, to, Mode::Replay).await?;
    let mut messages = plan.messages;
    messages.sort_by_key(|m| (m.due_at, m.customer_id));
    let ids: Vec<i64> = messages
        .iter()
        .map(|m| m.customer_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut recipients = store.recipients(&ids, to, to).await?;
    for r in recipients.values_mut() {
        r.sent.clear();
    }
    let mut out = DryRun {
        program: program.program.name.clone(),
        from,
        to,
        runs: planned.runs,
        customers: ids.len() as u64,
        messages: messages.len() as u64,
        per_day: Vec::new(),
        sent: 0,
        deferred: BTreeMap::new(),
        dropped: BTreeMap::new(),
    };
    let mut per_day: BTreeMap<(NaiveDate, Channel), u64> = BTreeMap::new();
    let mut log: HashMap<i64, Vec<(DateTime<Utc>, Channel)>> = HashMap::new();
    // Messages by the moment they are looked at; a held one comes back at its hold's end.
    let mut queue: BinaryHeap<Reverse<(DateTime<Utc>, usize)>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| Reverse((m.due_at, i)))
        .collect();
    let mut held: HashSet<usize> = HashSet::new();
    while let Some(Reverse((at, i))) = queue.pop() {
        let m: &NewMessage = &messages[i];
        let Some(r) = recipients.get(&m.customer_id) else {
            *out.dropped.entry("no-customer".into()).or_default() += 1;
            continue;
        };
        let facts = facts_at(r, log.get(&m.customer_id).map_or(&[][..], |v| v), m.channel, at, tz);
        match policy.decide(m.priority, &facts, at, m.expires_at, tz) {
            Verdict::Send => {
                out.sent += 1;
                *per_day
                    .entry((at.with_timezone(&tz.0).date_naive(), m.channel))
                    .or_default() += 1;
                log.entry(m.customer_id).or_default().push((at, m.channel));
            }
            Verdict::Defer { until, hold } => {
                if held.insert(i) {
                    *out.deferred.entry(hold.as_str().into()).or_default() += 1;
                }
                queue.push(Reverse((until, i)));
            }
            Verdict::Drop(refusal) => *out.dropped.entry(refusal.as_str().into()).or_default() += 1,
        }
    }
    out.per_day = per_day
        .into_iter()
        .map(|((day, channel), messages)| DayCount { day, channel, messages })
        .collect();
    Ok(out)
}

/// The policy's facts for a customer at `at`, with the replayed sends as their history.
fn facts_at(
    r: &Recipient,
    sends: &[(DateTime<Utc>, Channel)],
    channel: Channel,
    at: DateTime<Utc>,
    tz: ShopTz,
) -> guanxi_domain::program::ContactFacts {
    let day = at.with_timezone(&tz.0).date_naive();
    let today = |t: &DateTime<Utc>| t.with_timezone(&tz.0).date_naive() == day;
    let mut f = r.facts(channel);
    f.sent_today = sends.iter().filter(|(t, _)| today(t)).count() as u32;
    f.sent_today_channel = sends.iter().filter(|(t, c)| today(t) && *c == channel).count() as u32;
    f.sent_week = sends.iter().filter(|(t, _)| *t > at - Duration::days(7)).count() as u32;
    f
}
