//! Programs (docs/domain.md §5): who is reached, when and with what, as data — a trigger, steps
//! that wait and act, and the events that stop a run. Definitions are TOML (the six
//! built-ins in `builtin/`); parsing checks every name and duration, so a [`Program`] that
//! exists is well formed (parse, don't validate).
//!
//! Scheduling is pure: [`Program::due`] says which steps of one run are due at a moment,
//! given when the run started and when a stop event happened. Exactly-once sending is the
//! store's ledger keyed by [`ledger_key`]; this module only names the key.

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

use crate::{Channel, ShopTz, StatusTimes};

pub mod calendar;
mod delivery;
mod policy;

pub use delivery::{Delivery, EmailDelivery, GatewayDelivery, SmtpSecurity, WebhookDelivery};
pub use policy::{ContactFacts, ContactPolicy, Hold, QuietHours, Refusal, Verdict, next_local_midnight};

/// Who goes first when caps or quiet hours defer messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Transactional,
    Care,
    Marketing,
}

/// An order event that starts or stops a run, or times a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderEvent {
    CreatedUnpaid,
    Paid,
    Shipped,
    Arrived,
    Signed,
    Completed,
    Closed,
    Refunded,
    /// The parcel has not moved since the last logistics event.
    Stuck,
}

impl OrderEvent {
    /// When an order created at `created` with these status times reached the event. A
    /// parcel is stuck from its shipping while it has not arrived or been signed for (the
    /// step waits the 72 hours).
    pub fn at(self, created: DateTime<Utc>, t: &StatusTimes) -> Option<DateTime<Utc>> {
        match self {
            OrderEvent::CreatedUnpaid => Some(created),
            OrderEvent::Paid => t.paid_at,
            OrderEvent::Shipped => t.shipped_at,
            OrderEvent::Arrived => t.arrived_at,
            OrderEvent::Signed => t.signed_at,
            OrderEvent::Completed => t.completed_at,
            OrderEvent::Closed => t.closed_at,
            OrderEvent::Refunded => t.refunded_at,
            OrderEvent::Stuck => t.shipped_at.filter(|_| t.arrived_at.is_none() && t.signed_at.is_none()),
        }
    }

    /// The event as definitions write it (`created-unpaid`).
    pub fn name(self) -> &'static str {
        match self {
            OrderEvent::CreatedUnpaid => "created-unpaid",
            OrderEvent::Paid => "paid",
            OrderEvent::Shipped => "shipped",
            OrderEvent::Arrived => "arrived",
            OrderEvent::Signed => "signed",
            OrderEvent::Completed => "completed",
            OrderEvent::Closed => "closed",
            OrderEvent::Refunded => "refunded",
            OrderEvent::Stuck => "stuck",
        }
    }
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Order(OrderEvent),
    /// A class change recorded by a profile build; or (kind `tier`, `tier-warning`) a
    /// membership tier entered, or warned of being lost, where class `*` is any tier.
    Became {
        kind: String,
        class: String,
    },
    /// A date: `birthday`, a calendar day by name (`double-11`, `618`, `spring-festival`;
    /// see [`calendar`]) or a shop's own day (`08-08`). A run starts at the day's first
    /// moment; negative waits act before it (pre-heat waves).
    Date(String),
    /// Entering a segment (an expression or `in segment 'name'`).
    Segment(String),
    /// A schedule: a run every period (`7d`, `1mo`) from the program's enabling, to its
    /// audience.
    Every(Wait),
}

/// The trigger as people read it: `order created-unpaid`, `relationship → first-time`,
/// `date double-11`, `segment …`, `every 7d`.
impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Order(e) => write!(f, "order {}", e.name()),
            Trigger::Became { kind, class } => write!(f, "{kind} → {class}"),
            Trigger::Date(d) => write!(f, "date {d}"),
            Trigger::Segment(s) => write!(f, "segment {s}"),
            Trigger::Every(w) => write!(f, "every {w}"),
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Action {
    Send {
        send: Channel,
        template: String,
    },
    AddTag {
        add_tag: String,
    },
    RemoveTag {
        remove_tag: String,
    },
    /// Issues a coupon of the named definition (`[coupons.NAME]`).
    Coupon {
        coupon: String,
    },
    /// Issues what the member's tier gives (`[tiers]`): nothing where it gives nothing.
    Benefit {
        benefit: crate::tier::Benefit,
    },
    Points {
        points: i64,
    },
    Task {
        task: String,
    },
}

/// The action as people read it: `sms: payment-reminder-1`, `+ tag`, `task: …`.
impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Send { send, template } => write!(f, "{send}: {template}"),
            Action::AddTag { add_tag } => write!(f, "+ tag {add_tag}"),
            Action::RemoveTag { remove_tag } => write!(f, "− tag {remove_tag}"),
            Action::Coupon { coupon } => write!(f, "coupon {coupon}"),
            Action::Benefit { benefit } => write!(f, "tier benefit {}", benefit.as_str()),
            Action::Points { points } => write!(f, "{points} points"),
            Action::Task { task } => write!(f, "task: {task}"),
        }
    }
}

/// A wait relative to the moment a step is timed from: minutes, hours, days or calendar
/// months; negative before it (campaign pre-heat waves before the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Minutes(i64),
    Months(i32),
}

impl Wait {
    /// `30m`, `6h`, `7d`, `-3d`, `12mo`.
    pub fn parse(s: &str) -> Result<Wait, String> {
        let bad = || format!("expected a wait such as 30m, 6h, 7d, -3d or 12mo, found {s:?}");
        let t = s.trim();
        let (number, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(bad)?);
        let n: i64 = number.parse().map_err(|_| bad())?;
        let wait = match unit {
            "m" => Wait::Minutes(n),
            "h" => Wait::Minutes(n.saturating_mul(60)),
            "d" => Wait::Minutes(n.saturating_mul(24 * 60)),
            "mo" => Wait::Months(i32::try_from(n).unwrap_or(i32::MAX)),
            _ => return Err(bad()),
        };
        let within = match wait {
            Wait::Minutes(m) => m.abs() <= Wait::MAX_MONTHS as i64 * 31 * 24 * 60,
            Wait::Months(m) => m.unsigned_abs() <= Wait::MAX_MONTHS,
        };
        if !within {
            return Err(format!(
                "expected a wait of at most {} years either way, found {s:?}",
                Wait::MAX_MONTHS / 12
            ));
        }
        Ok(wait)
    }

    /// The longest wait a definition may give: ten years. Beyond it a time computed from
    /// an order's could leave the calendar's range.
    pub const MAX_MONTHS: u32 = 120;

    /// The moment `from` plus the wait; calendar months in the shop's time zone (Jan 31
    /// + 1 month is the last day of February).
    pub fn after(self, from: DateTime<Utc>, tz: ShopTz) -> DateTime<Utc> {
        match self {
            Wait::Minutes(m) => from + Duration::minutes(m),
            Wait::Months(n) => {
                let local = from.with_timezone(&tz.0);
                let moved = if n >= 0 {
                    local.checked_add_months(Months::new(n.unsigned_abs()))
                } else {
                    local.checked_sub_months(Months::new(n.unsigned_abs()))
                };
                moved.map_or(from, |t| t.with_timezone(&Utc))
            }
        }
    }
}

/// The definition's text: `30m`, `6h`, `7d`, `12mo` (the largest whole unit).
impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Wait::Minutes(m) if m != 0 && m % (24 * 60) == 0 => write!(f, "{}d", m / (24 * 60)),
            Wait::Minutes(m) if m != 0 && m % 60 == 0 => write!(f, "{}h", m / 60),
            Wait::Minutes(m) => write!(f, "{m}m"),
            Wait::Months(n) => write!(f, "{n}mo"),
        }
    }
}

impl Serialize for Wait {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Wait {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Wait, D::Error> {
        let s = String::deserialize(d)?;
        Wait::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One step of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// The order event the step is timed from; the run's start when absent.
    #[serde(default)]
    pub on: Option<OrderEvent>,
    pub after: Wait,
    /// A condition on the customer (a segment expression over their profile) that must
    /// hold when the step falls due; steps with complementary conditions are branches
    /// (`when = "tier = 'vip'"` one template, `when = "not tier = 'vip'"` another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub action: Action,
}

/// A program definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub name: String,
    pub title: String,
    pub priority: Priority,
    pub trigger: Trigger,
    /// Events of the run's order (or, for customer-level runs, any paid order) that end
    /// the run: nothing after them is sent.
    #[serde(default)]
    pub stop_on: Vec<OrderEvent>,
    /// Spread a run's first sends evenly over this many days (segment marketing).
    #[serde(default)]
    pub spread_days: Option<u32>,
    /// Who a calendar-day program reaches: a segment expression [default: every customer
    /// with a paid order]. Birthdays reach whoever has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The share of customers held out (0 to 0.5; default none): each step of a held-out
    /// customer's run is recorded as held out instead of done, so that the programs page
    /// can show what each step adds over doing nothing. Who is held out is a hash of the
    /// program's name and the customer, the same at every pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<f64>,
    pub steps: Vec<Step>,
}

/// A definition that could not be read: where and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {message}")]
pub struct ProgramError {
    pub origin: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Program {
    /// Every coupon the program's steps issue is one the shop defines; otherwise the
    /// first step that names another, and what is defined.
    pub fn coupons_defined(&self, coupons: &crate::coupon::Definitions) -> Result<(), String> {
        for step in &self.steps {
            if let Action::Coupon { coupon } = &step.action {
                coupons
                    .named(coupon)
                    .map_err(|why| format!("step {:?}: {why}", step.name))?;
            }
        }
        Ok(())
    }

    /// Whether `customer` is in this program's holdout: a draw of xxh3 over (the hash of
    /// the program's name, the customer), as campaigns draw theirs.
    pub fn holds_out(&self, customer: i64) -> bool {
        let share = self.holdout.unwrap_or(0.0);
        share > 0.0 && crate::campaign::draw(xxhash_rust::xxh3::xxh3_64(self.name.as_bytes()), customer).0 < share
    }

    /// The saved segments the definition names (`in segment '…'` in its trigger, audience
    /// or step conditions): a segment a program uses cannot be deleted.
    pub fn segments(&self) -> Vec<String> {
        let trigger = match &self.trigger {
            Trigger::Segment(s) => Some(s.as_str()),
            _ => None,
        };
        let mut names: Vec<String> = trigger
            .into_iter()
            .chain(self.audience.as_deref())
            .chain(self.steps.iter().filter_map(|s| s.when.as_deref()))
            .filter_map(|text| crate::segment::parse(text).ok())
            .flat_map(|e| {
                e.conditions()
                    .into_iter()
                    .filter_map(|c| match c {
                        crate::segment::Cond::InSegment(name) => Some(name.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Reads a TOML definition; `origin` (a file name) locates errors.
    pub fn parse(text: &str, origin: &str) -> Result<Program, ProgramError> {
        let located = |offset: usize, message: String| {
            let before = &text[..offset.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            ProgramError {
                origin: origin.to_string(),
                line,
                column,
                message,
            }
        };
        let p: Program = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            located(offset, e.message().to_string())
        })?;
        if p.steps.is_empty() {
            return Err(located(0, "a program needs at least one [[steps]]".into()));
        }
        if let Some(h) = p.holdout
            && !(0.0..=0.5).contains(&h)
        {
            let offset = text.find("\nholdout").map_or(0, |at| at + 1);
            return Err(located(
                offset,
                format!("holdout: expected a share from 0 to 0.5, found {h}"),
            ));
        }
        if crate::campaign::campaign_of(&p.name).is_some() {
            // The outbox names campaigns' messages so.
            let offset = text.find(&p.name).unwrap_or(0);
            return Err(located(
                offset,
                format!(
                    "name: expected a name not starting with \"campaign:\", found {:?}",
                    p.name
                ),
            ));
        }
        // Every segment expression in the definition (the trigger's, the audience, each
        // step's condition) parses, or the error points into it.
        let trigger = match &p.trigger {
            Trigger::Segment(s) => Some(("trigger", s.as_str())),
            _ => None,
        };
        let audience = p.audience.as_deref().map(|a| ("audience", a));
        let whens = p.steps.iter().filter_map(|s| s.when.as_deref().map(|w| ("when", w)));
        for (what, expr) in trigger.into_iter().chain(audience).chain(whens) {
            if let Err(e) = crate::segment::parse(expr) {
                let offset = text.find(expr).map_or(0, |at| at + e.offset);
                return Err(located(
                    offset,
                    format!("{what}: expected {}, found {}", e.expected, e.found),
                ));
            }
        }
        if let Some(days) = p.spread_days
            && days > 366
        {
            let offset = text.find("spread_days").unwrap_or(0);
            return Err(located(
                offset,
                format!("spread_days: expected at most 366 days, found {days}"),
            ));
        }
        if let Trigger::Every(w) = &p.trigger
            && !matches!(w, Wait::Minutes(m) if *m >= 60)
            && !matches!(w, Wait::Months(n) if *n > 0)
        {
            let offset = text.find("every").unwrap_or(0);
            return Err(located(
                offset,
                format!("a schedule runs every hour or longer, found {w}"),
            ));
        }
        if let Trigger::Date(day) = &p.trigger
            && !calendar::known(day)
        {
            let offset = text.find(&format!("\"{day}\"")).unwrap_or(0);
            let names: Vec<&str> = calendar::names().collect();
            return Err(located(
                offset,
                format!(
                    "unknown day {day:?}: expected birthday, MM-DD or one of {}",
                    names.join(", ")
                ),
            ));
        }
        let mut names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            let offset = text.find(&format!("\"{}\"", w[0])).unwrap_or(0);
            return Err(located(
                offset,
                format!("two steps are named {:?}: step names key the send ledger", w[0]),
            ));
        }
        Ok(p)
    }

    /// The steps of one run due at `now` with their due times, in step order: a run
    /// started at `started`, with `events` the times its order reached each event (for
    /// steps timed `on` one, and for the stop events). Nothing due at or after a stop
    /// event is due.
    pub fn due(
        &self,
        started: DateTime<Utc>,
        events: &dyn Fn(OrderEvent) -> Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        tz: ShopTz,
    ) -> Vec<(usize, DateTime<Utc>)> {
        let stopped = self.stop_on.iter().filter_map(|e| events(*e)).min();
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(i, step)| {
                let from = match step.on {
                    Some(e) => events(e)?,
                    None => started,
                };
                let at = step.after.after(from, tz);
                (at <= now && stopped.is_none_or(|s| at < s)).then_some((i, at))
            })
            .collect()
    }

    /// When the run's next step falls due after `now` (the earliest step not yet due
    /// that no stop event has cancelled), for a scheduler that wakes at that minute
    /// instead of at its next pass.
    pub fn next_due(
        &self,
        started: DateTime<Utc>,
        events: &dyn Fn(OrderEvent) -> Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        tz: ShopTz,
    ) -> Option<DateTime<Utc>> {
        let stopped = self.stop_on.iter().filter_map(|e| events(*e)).min();
        self.steps
            .iter()
            .filter_map(|step| {
                let from = match step.on {
                    Some(e) => events(e)?,
                    None => started,
                };
                let at = step.after.after(from, tz);
                (at > now && stopped.is_none_or(|s| at < s)).then_some(at)
            })
            .min()
    }
}

/// The seven built-in programs with docs/domain.md §5's defaults, ready to enable.
pub fn builtin() -> Vec<Program> {
    const FILES: [(&str, &str); 7] = [
        ("payment-reminder.toml", include_str!("builtin/payment-reminder.toml")),
        ("order-care.toml", include_str!("builtin/order-care.toml")),
        (
            "birthday-holiday-care.toml",
            include_str!("builtin/birthday-holiday-care.toml"),
        ),
        ("second-purchase.toml", include_str!("builtin/second-purchase.toml")),
        ("segment-marketing.toml", include_str!("builtin/segment-marketing.toml")),
        ("campaign-preheat.toml", include_str!("builtin/campaign-preheat.toml")),
        ("tier-warning.toml", include_str!("builtin/tier-warning.toml")),
    ];
    FILES
        .iter()
        .map(|(file, text)| Program::parse(text, file).unwrap_or_else(|e| panic!("a built-in program: {e}")))
        .collect()
}

/// The send ledger's key of one step of one run: a second send with the same key is
/// impossible (the store's unique index), whatever crashes or races happen.
pub fn ledger_key(customer_id: i64, program: &str, step: &str, occurrence: &str) -> String {
    format!("{customer_id}/{program}/{step}/{occurrence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn the_built_ins_read_and_keep_the_domain_defaults() {
        let all = builtin();
        assert_eq!(all.len(), 7);
        let reminder = &all[0];
        assert_eq!(reminder.name, "payment-reminder");
        // The next step's time, for a scheduler that wakes at it: +30 min, then +6 h;
        // nothing once paid.
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let tz = ShopTz::default();
        let unpaid = |_: OrderEvent| None;
        let minutes = |m: i64| t0 + chrono::Duration::minutes(m);
        assert_eq!(reminder.next_due(t0, &unpaid, minutes(10), tz), Some(minutes(30)));
        assert_eq!(reminder.next_due(t0, &unpaid, minutes(30), tz), Some(minutes(360)));
        assert_eq!(reminder.next_due(t0, &unpaid, minutes(360), tz), None);
        let paid = |e: OrderEvent| (e == OrderEvent::Paid).then_some(minutes(20));
        assert_eq!(reminder.next_due(t0, &paid, minutes(10), tz), None);
        let waits: Vec<Wait> = reminder.steps.iter().map(|s| s.after).collect();
        assert_eq!(waits, vec![Wait::Minutes(30), Wait::Minutes(360)]);
        assert_eq!(reminder.stop_on, vec![OrderEvent::Paid, OrderEvent::Closed]);
        let second = all.iter().find(|p| p.name == "second-purchase").unwrap();
        let months: Vec<Wait> = second.steps.iter().map(|s| s.after).collect();
        assert_eq!(months, [1, 2, 3, 6, 12].map(Wait::Months).to_vec());
        let care = all.iter().find(|p| p.name == "order-care").unwrap();
        let after_use = care.steps.iter().find(|s| s.name == "after-use").unwrap();
        assert_eq!(
            (after_use.on, after_use.after),
            (Some(OrderEvent::Signed), Wait::Minutes(7 * 24 * 60))
        );
        let preheat = all.iter().find(|p| p.name == "campaign-preheat").unwrap();
        let waves: Vec<Wait> = preheat.steps.iter().map(|s| s.after).collect();
        assert_eq!(waves, [-7, -3, -1].map(|d| Wait::Minutes(d * 24 * 60)).to_vec());
    }

    #[test]
    fn reminders_stop_at_payment() {
        let reminder = &builtin()[0];
        let created = at(0);
        let tz = ShopTz::default();
        let unpaid = |_: OrderEvent| None;
        // At +1 h only the first reminder is due; at +7 h both.
        assert_eq!(
            reminder.due(created, &unpaid, created + Duration::hours(1), tz).len(),
            1
        );
        let both = reminder.due(created, &unpaid, created + Duration::hours(7), tz);
        assert_eq!(
            both,
            vec![(0, created + Duration::minutes(30)), (1, created + Duration::hours(6))]
        );
        // Paid after 2 hours: the second reminder never becomes due.
        let paid = |e: OrderEvent| (e == OrderEvent::Paid).then_some(created + Duration::hours(2));
        assert_eq!(
            reminder.due(created, &paid, created + Duration::days(3), tz),
            vec![(0, created + Duration::minutes(30))]
        );
        // Paid within 10 minutes: nothing.
        let quick = |e: OrderEvent| (e == OrderEvent::Paid).then_some(created + Duration::minutes(10));
        assert!(
            reminder
                .due(created, &quick, created + Duration::days(3), tz)
                .is_empty()
        );
    }

    #[test]
    fn events_are_named_as_definitions_write_them_and_timed_from_the_order() {
        use OrderEvent::*;
        for e in [
            CreatedUnpaid,
            Paid,
            Shipped,
            Arrived,
            Signed,
            Completed,
            Closed,
            Refunded,
            Stuck,
        ] {
            assert_eq!(toml::Value::try_from(e).unwrap().as_str(), Some(e.name()));
        }
        let created = at(0);
        let shipped = StatusTimes {
            paid_at: Some(at(1)),
            shipped_at: Some(at(5)),
            ..StatusTimes::default()
        };
        assert_eq!(CreatedUnpaid.at(created, &shipped), Some(created));
        assert_eq!(
            Stuck.at(created, &shipped),
            Some(at(5)),
            "shipped, not arrived: stuck since shipping"
        );
        let arrived = StatusTimes {
            arrived_at: Some(at(30)),
            ..shipped.clone()
        };
        assert_eq!(Stuck.at(created, &arrived), None);
        assert_eq!(Signed.at(created, &arrived), None);
    }

    #[test]
    fn months_are_calendar_months_in_the_shop_zone() {
        let tz = ShopTz::default();
        // 2026-01-31 12:00 in Shanghai + 1 month = 2026-02-28 12:00 there.
        let from = Utc.with_ymd_and_hms(2026, 1, 31, 4, 0, 0).unwrap();
        assert_eq!(
            Wait::Months(1).after(from, tz),
            Utc.with_ymd_and_hms(2026, 2, 28, 4, 0, 0).unwrap()
        );
        assert_eq!(Wait::parse("-3d"), Ok(Wait::Minutes(-3 * 24 * 60)));
        assert!(Wait::parse("3 weeks").is_err());
        // Bounded where read: no time computed from a wait can leave the calendar.
        assert!(Wait::parse("3650d").is_ok() && Wait::parse("-120mo").is_ok());
        for huge in [
            "9999999999999999d",
            "5000000h",
            "121mo",
            "-99999999999mo",
            "9223372036854775807m",
        ] {
            assert!(Wait::parse(huge).unwrap_err().contains("at most 10 years"), "{huge}");
        }
        for text in ["30m", "6h", "7d", "-3d", "12mo", "0m", "90m"] {
            assert_eq!(Wait::parse(text).unwrap().to_string(), text);
        }
        // Definitions round-trip through their serialised form.
        for p in builtin() {
            let text = toml::to_string(&p).unwrap();
            assert_eq!(Program::parse(&text, "round-trip").unwrap(), p);
        }
    }

    #[test]
    fn bad_definitions_say_where_and_what() {
        let text = "name = \"x\"\ntitle = \"X\"\npriority = \"urgent\"\ntrigger = { order = \"paid\" }\n\n[[steps]]\nname = \"a\"\nafter = \"1d\"\naction = { task = \"call\" }\n";
        let e = Program::parse(text, "x.toml").unwrap_err();
        assert_eq!((e.origin.as_str(), e.line), ("x.toml", 3), "{e}");
        assert!(e.message.contains("transactional"), "{e}");
        let e = Program::parse(&text.replace("urgent", "care").replace("1d", "soon"), "x.toml").unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains("expected a wait"), "{e}");
        let twice = format!(
            "{}\n[[steps]]\nname = \"a\"\nafter = \"2d\"\naction = {{ task = \"again\" }}\n",
            text.replace("urgent", "care")
        );
        let e = Program::parse(&twice, "x.toml").unwrap_err();
        assert!(e.message.contains("two steps are named"), "{e}");
        let holiday = text
            .replace("urgent", "care")
            .replace("{ order = \"paid\" }", "{ date = \"black-friday\" }");
        let e = Program::parse(&holiday, "x.toml").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("unknown day \"black-friday\""), "{e}");
        assert!(Program::parse(&holiday.replace("black-friday", "double-11"), "x.toml").is_ok());
        let conditioned = text
            .replace("urgent", "care")
            .replace("after = \"1d\"", "after = \"1d\"\nwhen = \"tier = 'vip' and\"");
        let e = Program::parse(&conditioned, "x.toml").unwrap_err();
        assert_eq!((e.line, e.column), (9, 25), "at the end of the expression: {e}");
        assert!(e.message.starts_with("when: expected"), "{e}");
        let branch = Program::parse(&conditioned.replace(" and\"", "\""), "x.toml").unwrap();
        assert_eq!(branch.steps[0].when.as_deref(), Some("tier = 'vip'"));
        assert_eq!(
            ledger_key(7, "payment-reminder", "first", "o-1"),
            "7/payment-reminder/first/o-1"
        );
    }
}
