//! The scheduler: turns enabled programs into queued messages. Each pass looks at what
//! happened since the program was enabled (order events, class changes from profile
//! builds, birthdays, segment entries), asks each run which steps are due
//! ([`Program::due`]) and writes the new ones with the segment entries in one transaction
//! ([`Outbox::apply`]). A pass is idempotent: what is already in the ledger is skipped, so
//! passes may repeat, overlap or run on several instances.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike as _, Duration, Utc};
use guanxi_domain::ShopTz;
use guanxi_domain::coupon::Definitions;
use guanxi_domain::program::{Action, ContactPolicy, OrderEvent, Program, Trigger, Wait, ledger_key};
use guanxi_domain::tier::{Benefit, Tiers};
use guanxi_store::segment::ResolveError;
use guanxi_store::{
    Entry, HeldColumns, NewAction, NewCoupon, NewMessage, OrderEvents, Plan, ProfileColumns, ProgramState, Store,
};
use serde::{Deserialize, Serialize};

use crate::EngageError;

/// A program the store holds, with its definition read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub state: ProgramState,
    pub program: Program,
}

/// The store's programs with their definitions read; a definition that no longer reads
/// (written by a newer guanxi) is an error naming the program.
pub async fn load(store: &dyn Store) -> Result<Vec<Loaded>, EngageError> {
    Ok(load_all(store).await?.0)
}

/// A stored program whose definition no longer reads (a definition written by another
/// version, or by hand): skipped, and reported, while the others go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    pub program: String,
    pub error: String,
}

/// The stored programs that read, and those that do not.
pub async fn load_all(store: &dyn Store) -> Result<(Vec<Loaded>, Vec<Broken>), EngageError> {
    let mut ok = Vec::new();
    let mut broken = Vec::new();
    for state in store.programs().await? {
        match Program::parse(&state.definition, &format!("program '{}'", state.name)) {
            Ok(program) => ok.push(Loaded { state, program }),
            Err(e) => broken.push(Broken {
                program: state.name.clone(),
                error: e.to_string(),
            }),
        }
    }
    Ok((ok, broken))
}

/// The enabled programs whose definitions name the saved segment `name`.
pub async fn programs_using(store: &dyn Store, name: &str) -> Result<Vec<String>, EngageError> {
    Ok(load(store)
        .await?
        .into_iter()
        .filter(|p| p.state.enabled && p.program.segments().iter().any(|s| s == name))
        .map(|p| p.program.name)
        .collect())
}

/// A program guanxi knows, with the store's state of it (none for a built-in never
/// enabled).
#[derive(Debug, Clone)]
pub struct Known {
    pub program: Program,
    pub state: Option<ProgramState>,
}

/// Every program guanxi knows: the seven built-ins, each replaced by the store's version
/// once enabled, then the shop's own — what `guanxi program list` and the web show.
pub async fn catalogue(store: &dyn Store) -> Result<Vec<Known>, EngageError> {
    let mut out: Vec<Known> = guanxi_domain::program::builtin()
        .into_iter()
        .map(|program| Known { program, state: None })
        .collect();
    for Loaded { state, program } in load(store).await? {
        let known = Known {
            program,
            state: Some(state),
        };
        match out.iter_mut().find(|k| k.program.name == known.program.name) {
            Some(slot) => *slot = known,
            None => out.push(known),
        }
    }
    Ok(out)
}

/// What one pass found, per program.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Planned {
    pub program: String,
    /// Runs started (orders, class changes, birthdays, segment entries) in the window.
    pub runs: u64,
    /// Messages due and not yet in the ledger.
    pub messages: u64,
    pub entered: u64,
    pub left: u64,
    /// Why the program was skipped this pass.
    pub error: Option<String>,
    /// When the earliest step of the runs seen falls due after this pass: the engine
    /// plans again at that minute rather than at its next interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due: Option<DateTime<Utc>>,
}

impl Planned {
    /// Keeps the earlier of the known next due time and `t`.
    pub(crate) fn due_later(&mut self, t: Option<DateTime<Utc>>) {
        self.next_due = match (self.next_due, t) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    pub(crate) fn failed(program: &str, error: String) -> Planned {
        Planned {
            program: program.to_string(),
            error: Some(error),
            ..Planned::default()
        }
    }
}

/// The order column an event is read from.
fn column(event: OrderEvent) -> &'static str {
    match event {
        OrderEvent::CreatedUnpaid => "created_at",
        OrderEvent::Paid => "paid_at",
        OrderEvent::Shipped | OrderEvent::Stuck => "shipped_at",
        OrderEvent::Arrived => "arrived_at",
        OrderEvent::Signed => "signed_at",
        OrderEvent::Completed => "completed_at",
        OrderEvent::Closed => "closed_at",
        OrderEvent::Refunded => "refunded_at",
    }
}

/// When an order reached an event (the domain's rule, on the stored times).
pub fn event_time(o: &OrderEvents, e: OrderEvent) -> Option<DateTime<Utc>> {
    e.at(o.created_at, &o.times)
}

/// How far back a pass looks for runs that may still have steps due: the longest wait,
/// plus a month when steps wait on later order events (signed + 7 days after shipping).
fn lookback(p: &Program) -> Duration {
    let longest = p
        .steps
        .iter()
        .map(|s| match s.after {
            Wait::Minutes(m) => Duration::minutes(m.max(0)),
            Wait::Months(n) => Duration::days(31 * i64::from(n.max(0))),
        })
        .max()
        .unwrap_or_default();
    let later = if p.steps.iter().any(|s| s.on.is_some()) {
        Duration::days(30)
    } else {
        Duration::zero()
    };
    longest + later + Duration::days(1)
}

/// A live pass, or a replay of history that writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Replay,
}

/// Plans one pass over `programs` at `now`: the messages due, the segment entries.
pub struct Scheduler<'a> {
    pub store: &'a dyn Store,
    pub policy: &'a ContactPolicy,
    pub tz: ShopTz,
    /// The latest build's profile columns held in memory: a segment over profile columns
    /// alone takes its members from them instead of paging through the store.
    pub columns: Option<&'a HeldColumns>,
    /// The shop's coupons: what coupon steps issue.
    pub coupons: &'a Definitions,
    /// The tiers: what benefit steps issue.
    pub tiers: &'a Tiers,
}

impl Scheduler<'_> {
    /// Plans and writes one pass over the enabled programs.
    /// One pass over the enabled programs. A program that fails (a segment it names was
    /// deleted, a store error in its window) is skipped with its error in its
    /// [`Planned`]; every other program is planned as usual.
    pub async fn pass(&self, programs: &[Loaded], now: DateTime<Utc>) -> Result<Vec<Planned>, EngageError> {
        let mut out = Vec::new();
        for p in programs.iter().filter(|p| p.state.enabled) {
            let planned = match self.plan(p, now).await {
                Ok((plan, mut planned)) => match self.store.apply(&plan).await {
                    Ok(n) => {
                        planned.messages = n;
                        planned
                    }
                    Err(e) => Planned::failed(&p.program.name, e.to_string()),
                },
                Err(e) => Planned::failed(&p.program.name, e.to_string()),
            };
            out.push(planned);
        }
        Ok(out)
    }

    /// What one program has due at `now` that the ledger does not hold yet (written by
    /// the caller).
    pub async fn plan(&self, p: &Loaded, now: DateTime<Utc>) -> Result<(Plan, Planned), EngageError> {
        let since = p.state.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.plan_window(p, since.max(now - lookback(&p.program)), since, now, Mode::Live)
            .await
    }

    /// What one program has due at `now` for runs started from `from` on (and steps due
    /// from `since` on). A replay ([`Mode::Replay`]) ignores the ledger and the recorded
    /// segment entries: it answers "what would have been sent".
    pub async fn plan_window(
        &self,
        p: &Loaded,
        from: DateTime<Utc>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        mode: Mode,
    ) -> Result<(Plan, Planned), EngageError> {
        // A coupon no definition describes would be a promise the shop cannot keep: the
        // program does not run until the settings define it.
        p.program.coupons_defined(self.coupons).map_err(EngageError::Program)?;
        let (mut plan, planned) = self.plan_runs(p, from, since, now, mode).await?;
        self.issue_coupons(&mut plan, now).await?;
        Ok((plan, planned))
    }

    /// The coupons the plan's coupon and tier-benefit actions issue, issued at `now`
    /// (each recorded with its action, so once). A benefit issues what the member's tier
    /// gives (their latest recorded tier; the lowest where none is); its action's detail
    /// says what that was.
    pub(crate) async fn issue_coupons(&self, plan: &mut Plan, now: DateTime<Utc>) -> Result<(), EngageError> {
        let members: Vec<i64> = plan
            .actions
            .iter()
            .filter(|a| a.action == "benefit")
            .map(|a| a.customer_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let tiers: HashMap<i64, String> = if members.is_empty() {
            HashMap::new()
        } else {
            self.store.current_tiers(&members).await?.into_iter().collect()
        };
        let lowest = self.tiers.levels.first();
        for a in &mut plan.actions {
            let names: Vec<String> = match a.action {
                "coupon" => vec![a.detail.clone()],
                "benefit" => {
                    let Ok(benefit) = Benefit::parse(&a.detail) else {
                        continue;
                    };
                    let level = tiers
                        .get(&a.customer_id)
                        .and_then(|name| self.tiers.levels.iter().find(|l| &l.name == name))
                        .or(lowest);
                    let names: Vec<String> = level
                        .map(|l| l.coupons_for(benefit).into_iter().map(String::from).collect())
                        .unwrap_or_default();
                    let tier = level.map_or("-", |l| l.name.as_str());
                    a.detail = if names.is_empty() {
                        format!("{}: {tier} has none", benefit.as_str())
                    } else {
                        format!("{}: {tier} → {}", benefit.as_str(), names.join(", "))
                    };
                    names
                }
                _ => continue,
            };
            for (i, name) in names.iter().enumerate() {
                let Some(definition) = self.coupons.get(name) else {
                    continue;
                };
                let issue_key = if i == 0 {
                    a.ledger_key.clone()
                } else {
                    format!("{}#{i}", a.ledger_key)
                };
                let coupon = NewCoupon::new(
                    issue_key,
                    a.customer_id,
                    name,
                    definition,
                    now,
                    a.program.clone(),
                    rand::random(),
                );
                plan.coupons.push((a.ledger_key.clone(), coupon));
            }
        }
        Ok(())
    }

    /// The runs of one program and what they have due (see [`Scheduler::plan_window`]).
    async fn plan_runs(
        &self,
        p: &Loaded,
        from: DateTime<Utc>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        mode: Mode,
    ) -> Result<(Plan, Planned), EngageError> {
        let program = &p.program;
        let mut plan = Plan {
            at: Some(now),
            ..Plan::default()
        };
        let mut planned = Planned {
            program: program.name.clone(),
            ..Planned::default()
        };
        if from > now {
            return Ok((plan, planned));
        }
        match &program.trigger {
            Trigger::Order(event) => {
                let mut after = None;
                loop {
                    let (page, cursor) = self
                        .store
                        .orders_by_event(column(*event), from, now, after, 2000)
                        .await?;
                    if cursor.is_none() {
                        break;
                    }
                    after = cursor;
                    for o in &page {
                        let Some(started) = event_time(o, *event) else { continue };
                        planned.runs += 1;
                        let events = |e: OrderEvent| event_time(o, e);
                        let occurrence = format!("o{}", o.id);
                        planned.due_later(self.push_due(
                            &mut plan,
                            program,
                            o.customer_id,
                            Some(o.id),
                            &occurrence,
                            started,
                            &events,
                            since,
                            now,
                        ));
                    }
                }
            }
            Trigger::Became { kind, class } => {
                let entered = self.store.entered_class(kind, class, from, now).await?;
                let ids: Vec<i64> = entered.iter().map(|e| e.0).collect();
                let oldest = entered.iter().map(|e| e.2).min().unwrap_or(now);
                let mut paid: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
                for (c, at) in self.store.paid_since(&ids, oldest).await? {
                    paid.entry(c).or_default().push(at);
                }
                for (customer, build, started) in entered {
                    planned.runs += 1;
                    // A customer-level run stops at their next paid order (a repeat purchase).
                    let next_paid = paid
                        .get(&customer)
                        .and_then(|v| v.iter().filter(|t| **t > started).min().copied());
                    let events = |e: OrderEvent| (e == OrderEvent::Paid).then_some(next_paid).flatten();
                    let occurrence = format!("b{build}");
                    planned.due_later(self.push_due(
                        &mut plan,
                        program,
                        customer,
                        None,
                        &occurrence,
                        started,
                        &events,
                        since,
                        now,
                    ));
                }
            }
            Trigger::Date(day) if day == "birthday" => {
                // Every day of the window (a pass missed at midnight still finds today's).
                let mut date = from.with_timezone(&self.tz.0).date_naive();
                let last = now.with_timezone(&self.tz.0).date_naive();
                while date <= last {
                    let midnight = self.tz.start_of(date).unwrap_or(now);
                    for customer in self.store.birthdays(date.month(), date.day()).await? {
                        planned.runs += 1;
                        let occurrence = format!("{}", date.year());
                        planned.due_later(self.push_due(
                            &mut plan,
                            program,
                            customer,
                            None,
                            &occurrence,
                            midnight,
                            &|_| None,
                            since,
                            now,
                        ));
                    }
                    let Some(next) = date.succ_opt() else { break };
                    date = next;
                }
            }
            Trigger::Date(day) => {
                // Each year's day whose steps (waves before it, greetings on it) may fall due.
                let (first, last) = (
                    from.with_timezone(&self.tz.0).year(),
                    now.with_timezone(&self.tz.0).year(),
                );
                let starts: Vec<(DateTime<Utc>, String)> = (first - 1..=last + 1)
                    .filter_map(|year| {
                        let date = guanxi_domain::program::calendar::day(day, year)?;
                        Some((self.tz.start_of(date)?, format!("{day}-{year}")))
                    })
                    .collect();
                if !self
                    .audience_runs(&mut plan, &mut planned, program, &starts, since, now)
                    .await?
                {
                    return Ok((plan, planned));
                }
            }
            Trigger::Every(every) => {
                // Periods from the program's enabling: since, since + every, … up to now;
                // only those of the window are looked at.
                let mut starts = Vec::new();
                let origin = if since == DateTime::<Utc>::MIN_UTC { from } else { since };
                let mut k: i64 = match *every {
                    Wait::Minutes(m) if m > 0 => ((from - origin).num_minutes() / m - 1).max(0),
                    _ => 0,
                };
                loop {
                    let start = match *every {
                        Wait::Minutes(m) => origin + Duration::minutes(m.saturating_mul(k)),
                        Wait::Months(n) => Wait::Months(n.saturating_mul(k as i32)).after(origin, self.tz),
                    };
                    if start > now || k > 100_000 {
                        break;
                    }
                    starts.push((start, format!("e{k}")));
                    k += 1;
                }
                if !self
                    .audience_runs(&mut plan, &mut planned, program, &starts, since, now)
                    .await?
                {
                    return Ok((plan, planned));
                }
            }
            Trigger::Segment(text) => {
                let Some(members) = self.members(program, text).await? else {
                    return Ok((plan, planned));
                };
                let now_in: HashSet<i64> = members.into_iter().collect();
                let before: HashMap<i64, Entry> = match mode {
                    Mode::Live => self.store.entries(&program.name).await?,
                    Mode::Replay => Vec::new(),
                }
                .into_iter()
                .map(|e| (e.customer_id, e))
                .collect();
                let mut entered: Vec<i64> = now_in.iter().filter(|c| !before.contains_key(c)).copied().collect();
                entered.sort_unstable();
                let mut left: Vec<i64> = before.keys().filter(|c| !now_in.contains(c)).copied().collect();
                left.sort_unstable();
                // New runs start spread evenly over the program's days, so that daily volume
                // stays even; the runs of those still in the segment go on (later steps).
                let spread = Duration::days(i64::from(program.spread_days.unwrap_or(0)));
                let n = entered.len().max(1) as i32;
                let start = match mode {
                    Mode::Live => now,
                    Mode::Replay => from,
                };
                let occurrence = start.with_timezone(&self.tz.0).format("%Y-%m-%d").to_string();
                let new: Vec<Entry> = entered
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Entry {
                        program: program.name.clone(),
                        customer_id: *c,
                        started_at: start + spread * (i as i32) / n,
                        occurrence: occurrence.clone(),
                    })
                    .collect();
                let going_on: Vec<&Entry> = before.values().filter(|e| now_in.contains(&e.customer_id)).collect();
                planned.runs += (new.len() + going_on.len()) as u64;
                // Of the runs going on, only those with a step that may fall due in this
                // window are planned again. A run spread into the future had what falls
                // due by its start queued when it entered, and nothing else is due before
                // it starts; a step timed from the run's start is due when it is due (a
                // paid order can only stop it), and a message already expired is dropped
                // below anyway; a step timed from an event can be due at any time, so a
                // program with one plans every run. Spares a steady pass the paid-order
                // lookups of runs with nothing to plan.
                let timed_from_events = program.steps.iter().any(|s| s.on.is_some());
                let may_fall_due = |e: &Entry| {
                    timed_from_events
                        || (e.started_at <= now
                            && program
                                .due(e.started_at, &|_| None, now, self.tz)
                                .iter()
                                .any(|(i, at)| *at >= since && !self.expired(program, *i, *at, now)))
                };
                let runs: Vec<&Entry> = new
                    .iter()
                    .chain(going_on.into_iter().filter(|e| may_fall_due(e)))
                    .collect();
                // A run stops at the customer's next paid order (the offer worked).
                let ids: Vec<i64> = runs.iter().map(|e| e.customer_id).collect();
                let oldest = runs.iter().map(|e| e.started_at).min().unwrap_or(now);
                let mut paid: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
                if program.stop_on.contains(&OrderEvent::Paid) {
                    for (c, at) in self.store.paid_since(&ids, oldest).await? {
                        paid.entry(c).or_default().push(at);
                    }
                }
                for e in runs {
                    let next_paid = paid
                        .get(&e.customer_id)
                        .and_then(|v| v.iter().filter(|t| **t > e.started_at).min().copied());
                    let events = |ev: OrderEvent| (ev == OrderEvent::Paid).then_some(next_paid).flatten();
                    // A run spread into the future queues its first step now, due then.
                    let by = e.started_at.max(now);
                    planned.due_later(self.push_due(
                        &mut plan,
                        program,
                        e.customer_id,
                        None,
                        &e.occurrence,
                        e.started_at,
                        &events,
                        since,
                        by,
                    ));
                }
                planned.entered = new.len() as u64;
                planned.left = left.len() as u64;
                plan.entered = new;
                plan.left = left.into_iter().map(|c| (program.name.clone(), c)).collect();
            }
        }
        // Conditions (and so branches): a step with `when` goes to the customers its
        // expression holds for in the latest build, as the step is planned.
        for step in program.steps.iter().filter(|s| s.when.is_some()) {
            let expr = step.when.as_deref().unwrap_or_default();
            let holds: HashSet<i64> = self
                .members(program, expr)
                .await?
                .unwrap_or_default()
                .into_iter()
                .collect();
            plan.messages
                .retain(|m| m.step != step.name || holds.contains(&m.customer_id));
            plan.actions
                .retain(|a| a.step != step.name || holds.contains(&a.customer_id));
        }
        if mode == Mode::Replay {
            planned.messages = plan.messages.len() as u64;
            return Ok((plan, planned));
        }
        // A message already expired when it would be queued is one the worker would drop
        // unsent (the policy's expiry); leaving it out spares the ledger a question for
        // every step of the look-back window that fell due long ago — most of a steady
        // pass's work on a large shop (`guanxi bench schedule`).
        plan.messages.retain(|m| m.expires_at > now);
        // Only what the ledger does not hold yet: a pass re-finds the runs of the window.
        self.drop_recorded(&mut plan).await?;
        planned.messages = plan.messages.len() as u64;
        Ok((plan, planned))
    }

    /// Leaves out of `plan` the messages and actions the ledger already holds.
    pub(crate) async fn drop_recorded(&self, plan: &mut Plan) -> Result<(), EngageError> {
        let keys: Vec<String> = plan
            .messages
            .iter()
            .map(|m| m.ledger_key.clone())
            .chain(plan.actions.iter().map(|a| a.ledger_key.clone()))
            .collect();
        let known = self.store.ledger_has(&keys).await?;
        plan.messages.retain(|m| !known.contains(&m.ledger_key));
        plan.actions.retain(|a| !known.contains(&a.ledger_key));
        Ok(())
    }

    /// Runs of a program over its audience, one per start (a calendar day, a period):
    /// the steps due by `now`, each run stopped by a paid order since its first step
    /// ("skip those who already bought"). The audience is read once, when a run has
    /// something due; false before the first profile build.
    async fn audience_runs(
        &self,
        plan: &mut Plan,
        planned: &mut Planned,
        program: &Program,
        starts: &[(DateTime<Utc>, String)],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, EngageError> {
        let audience = program.audience.as_deref().unwrap_or("paid_orders >= 1");
        let mut members: Option<Vec<i64>> = None;
        for (started, occurrence) in starts {
            let due = program.due(*started, &|_| None, now, self.tz);
            let Some(earliest) = due.iter().map(|d| d.1).min() else {
                continue;
            };
            if due.iter().all(|d| d.1 < since) {
                continue;
            }
            if members.is_none() {
                match self.members(program, audience).await? {
                    Some(m) => members = Some(m),
                    None => return Ok(false),
                }
            }
            let ids = members.as_deref().unwrap_or_default();
            let mut paid: HashMap<i64, DateTime<Utc>> = HashMap::new();
            for (c, at) in self.store.paid_since(ids, earliest).await? {
                let e = paid.entry(c).or_insert(at);
                *e = (*e).min(at);
            }
            for customer in ids {
                planned.runs += 1;
                let bought = paid.get(customer).copied();
                let events = |e: OrderEvent| (e == OrderEvent::Paid).then_some(bought).flatten();
                planned.due_later(self.push_due(
                    plan, program, *customer, None, occurrence, *started, &events, since, now,
                ));
            }
        }
        Ok(true)
    }

    /// The customers matching a segment expression (saved segments inlined) in the latest
    /// profile build, by id; `None` (with a warning) before the first build.
    async fn members(&self, program: &Program, text: &str) -> Result<Option<Vec<i64>>, EngageError> {
        let Some(build) = self.store.latest_build().await? else {
            tracing::warn!(program = %program.name, "no profile build yet: segment and calendar programs wait for one");
            return Ok(None);
        };
        let expr = match guanxi_store::segment::resolve(self.store, text, "segment").await {
            Ok(r) => r.expr,
            Err(ResolveError::Store(e)) => return Err(e.into()),
            Err(ResolveError::Syntax { rendered }) => {
                return Err(EngageError::Program(format!("program '{}': {rendered}", program.name)));
            }
            Err(e) => return Err(EngageError::Program(format!("program '{}': {e}", program.name))),
        };
        if ProfileColumns::answers(&expr)
            && let Some(held) = self.columns
            && let Some(columns) = held.of(self.store, &build).await?
            && let Some(members) = columns.members(&expr)
        {
            return Ok(Some(members));
        }
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.segment_members(&expr, build.as_of, after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            out.extend(page.iter().map(|m| m.id));
        }
        Ok(Some(out))
    }

    /// Whether step `i`'s message, due at `due`, has expired by `now` (the worker would
    /// drop it unsent; actions do not expire).
    fn expired(&self, program: &Program, i: usize, due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        matches!(program.steps[i].action, Action::Send { .. }) && self.policy.expires(program.priority, due) <= now
    }

    /// Adds the send steps of one run due by `now` (and not before the program was
    /// enabled) to the plan.
    #[allow(clippy::too_many_arguments)]
    fn push_due(
        &self,
        plan: &mut Plan,
        program: &Program,
        customer: i64,
        order: Option<i64>,
        occurrence: &str,
        started: DateTime<Utc>,
        events: &dyn Fn(OrderEvent) -> Option<DateTime<Utc>>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let held = program.holds_out(customer);
        for (i, due) in program.due(started, events, now, self.tz) {
            let step = &program.steps[i];
            if due < since {
                continue;
            }
            let key = ledger_key(customer, &program.name, &step.name, occurrence);
            if held {
                // Recorded as held out where the step would have been done (a message
                // that would have expired unsent is not, on either side).
                if !self.expired(program, i, due, now) {
                    plan.actions.push(NewAction {
                        ledger_key: key,
                        customer_id: customer,
                        program: program.name.clone(),
                        step: step.name.clone(),
                        action: "holdout",
                        detail: step.action.to_string(),
                        due_at: due,
                    });
                }
                continue;
            }
            let (action, detail) = match &step.action {
                Action::Send { send, template } => {
                    plan.messages.push(NewMessage {
                        ledger_key: key,
                        customer_id: customer,
                        channel: *send,
                        program: program.name.clone(),
                        step: step.name.clone(),
                        template: template.clone(),
                        priority: program.priority,
                        order_id: order,
                        due_at: due,
                        expires_at: self.policy.expires(program.priority, due),
                    });
                    continue;
                }
                Action::AddTag { add_tag } => ("add-tag", add_tag.clone()),
                Action::RemoveTag { remove_tag } => ("remove-tag", remove_tag.clone()),
                Action::Task { task } => ("task", task.clone()),
                Action::Coupon { coupon } => ("coupon", coupon.clone()),
                // Resolved against the member's tier once the plan is made.
                Action::Benefit { benefit } => ("benefit", benefit.as_str().to_string()),
                Action::Points { points } => ("points", points.to_string()),
            };
            plan.actions.push(NewAction {
                ledger_key: key,
                customer_id: customer,
                program: program.name.clone(),
                step: step.name.clone(),
                action,
                detail,
                due_at: due,
            });
        }
        program.next_due(started, events, now, self.tz)
    }
}
