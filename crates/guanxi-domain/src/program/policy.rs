//! The contact policy (docs/domain.md §5, last paragraph): whether a message may go now, wait,
//! or not go at all. Decided at the moment of sending, from facts read then (consent can
//! be withdrawn between queueing and sending), so a queued message is only a candidate.
//!
//! The rules, by priority ([`Priority`]):
//! - consent: marketing needs consent granted on the channel; care and transactional
//!   messages go unless the customer refused the channel (opted out);
//! - an open complaint or dispute suppresses care and marketing until it is closed;
//! - quiet hours (shop time) hold every message until they end;
//! - caps: the daily caps (per channel and across channels) hold care and marketing; the
//!   customer's own tolerance (messages per week) holds marketing. Transactional messages
//!   (a payment reminder) are never held by a cap: that is what their priority means, and
//!   they count against the caps of what comes after them;
//! - a held message is deferred, not dropped, unless it would wait past its expiry.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::Priority;
use crate::{ConsentState, ShopTz};

/// The shop's contact policy, the `[contact]` section of the settings file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactPolicy {
    /// No messages between these times, shop time (`21:00-08:00`; `00:00-00:00` for none).
    pub quiet_hours: QuietHours,
    /// Messages a week for customers who have not told their tolerance (marketing).
    pub default_per_week: u16,
    /// Messages a day to one customer on one channel (care and marketing).
    pub per_channel_per_day: u16,
    /// Messages a day to one customer across channels (care and marketing).
    pub per_day: u16,
    /// How long a held message may wait before it is dropped, by priority, in hours.
    pub expire_transactional_hours: u32,
    pub expire_care_hours: u32,
    pub expire_marketing_hours: u32,
    /// Attempts at a failing send before the message is dead-lettered.
    pub max_attempts: u32,
}

impl Default for ContactPolicy {
    fn default() -> Self {
        ContactPolicy {
            quiet_hours: QuietHours::parse("21:00-08:00").expect("a valid default"),
            default_per_week: 3,
            per_channel_per_day: 1,
            per_day: 2,
            expire_transactional_hours: 24,
            expire_care_hours: 72,
            expire_marketing_hours: 7 * 24,
            max_attempts: 5,
        }
    }
}

/// Quiet hours: `start-end`, overnight when end is before start; empty when equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn parse(s: &str) -> Result<QuietHours, String> {
        let bad = || format!("expected quiet hours such as 21:00-08:00, found {s:?}");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        Ok(QuietHours {
            start: time(a)?,
            end: time(b)?,
        })
    }

    /// When the quiet hours holding `now` end, or `None` when `now` is not quiet.
    pub fn ends(&self, now: DateTime<Utc>, tz: ShopTz) -> Option<DateTime<Utc>> {
        if self.start == self.end {
            return None;
        }
        let local = now.with_timezone(&tz.0);
        let t = local.time();
        let quiet = if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        };
        if !quiet {
            return None;
        }
        let day = if t >= self.end {
            local.date_naive().succ_opt()?
        } else {
            local.date_naive()
        };
        let end = tz.0.from_local_datetime(&day.and_time(self.end)).earliest()?;
        Some(end.with_timezone(&Utc))
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

impl FromStr for QuietHours {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        QuietHours::parse(s)
    }
}

impl Serialize for QuietHours {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuietHours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<QuietHours, D::Error> {
        QuietHours::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What the policy needs to know about one customer at the moment of sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContactFacts {
    /// Consent on the message's channel.
    pub consent: Option<ConsentState>,
    /// The customer has an address on the channel (a valid mobile, email, WeChat id).
    pub reachable: bool,
    /// A complaint or dispute of theirs is open.
    pub open_complaint: bool,
    /// Their disturbance tolerance, messages a week, when they told it.
    pub tolerance_per_week: Option<u16>,
    /// Messages sent to them in the last 7 days, any channel.
    pub sent_week: u32,
    /// Messages sent to them today (shop time) on the message's channel, and on any.
    pub sent_today_channel: u32,
    pub sent_today: u32,
}

names! {
    /// Why a message waits.
    pub enum Hold {
        QuietHours = "quiet-hours",
        Complaint = "open-complaint",
        DailyChannelCap = "daily-channel-cap",
        DailyCap = "daily-cap",
        WeeklyTolerance = "weekly-tolerance",
    }
}

names! {
    /// Why a message will never go.
    pub enum Refusal {
        NoConsent = "no-consent",
        Unreachable = "no-address",
        Expired = "expired",
        /// The run's stop event happened (the order was paid): nothing more is due.
        Stopped = "stopped",
    }
}

/// The policy's answer for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Defer { until: DateTime<Utc>, hold: Hold },
    Drop(Refusal),
}

impl ContactPolicy {
    /// When a message of `priority` due at `due` expires.
    pub fn expires(&self, priority: Priority, due: DateTime<Utc>) -> DateTime<Utc> {
        let hours = match priority {
            Priority::Transactional => self.expire_transactional_hours,
            Priority::Care => self.expire_care_hours,
            Priority::Marketing => self.expire_marketing_hours,
        };
        due + Duration::hours(i64::from(hours))
    }

    /// The verdict on a message of `priority` at `now` that expires at `expires`.
    pub fn decide(
        &self,
        priority: Priority,
        facts: &ContactFacts,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
        tz: ShopTz,
    ) -> Verdict {
        let consent = facts.consent.unwrap_or(ConsentState::Unknown);
        let allowed = match priority {
            Priority::Marketing => consent == ConsentState::Granted,
            Priority::Care | Priority::Transactional => consent != ConsentState::Denied,
        };
        if !allowed {
            return Verdict::Drop(Refusal::NoConsent);
        }
        if !facts.reachable {
            return Verdict::Drop(Refusal::Unreachable);
        }
        if now >= expires {
            return Verdict::Drop(Refusal::Expired);
        }
        let next_day = || next_local_midnight(now, tz);
        let held = if priority != Priority::Transactional && facts.open_complaint {
            // Looked at again in an hour: complaints close at any time of day.
            Some((now + Duration::hours(1), Hold::Complaint))
        } else if let Some(end) = self.quiet_hours.ends(now, tz) {
            Some((end, Hold::QuietHours))
        } else if priority == Priority::Transactional {
            None
        } else if facts.sent_today_channel >= u32::from(self.per_channel_per_day) {
            Some((next_day(), Hold::DailyChannelCap))
        } else if facts.sent_today >= u32::from(self.per_day) {
            Some((next_day(), Hold::DailyCap))
        } else if priority == Priority::Marketing
            && facts.sent_week >= u32::from(facts.tolerance_per_week.unwrap_or(self.default_per_week))
        {
            Some((next_day(), Hold::WeeklyTolerance))
        } else {
            None
        };
        match held {
            None => Verdict::Send,
            Some((until, _)) if until >= expires => Verdict::Drop(Refusal::Expired),
            Some((until, hold)) => Verdict::Defer { until, hold },
        }
    }
}

/// The start of the next day in the shop's time zone.
pub fn next_local_midnight(now: DateTime<Utc>, tz: ShopTz) -> DateTime<Utc> {
    let local = now.with_timezone(&tz.0).date_naive();
    local
        .succ_opt()
        .and_then(|d| tz.start_of(d))
        .unwrap_or(now + Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-11 at `h`:00 Shanghai time.
    fn shanghai(h: u32) -> DateTime<Utc> {
        ShopTz::default()
            .0
            .with_ymd_and_hms(2026, 11, 11, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn granted() -> ContactFacts {
        ContactFacts {
            consent: Some(ConsentState::Granted),
            reachable: true,
            ..ContactFacts::default()
        }
    }

    #[test]
    fn quiet_hours_defer_to_the_morning() {
        let p = ContactPolicy::default();
        let tz = ShopTz::default();
        let now = shanghai(22);
        let far = now + Duration::days(3);
        let morning = ShopTz::default()
            .0
            .with_ymd_and_hms(2026, 11, 12, 8, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        for priority in [Priority::Transactional, Priority::Care, Priority::Marketing] {
            assert_eq!(
                p.decide(priority, &granted(), now, far, tz),
                Verdict::Defer {
                    until: morning,
                    hold: Hold::QuietHours
                }
            );
        }
        // Early morning is quiet too, until 08:00 the same day.
        assert_eq!(p.quiet_hours.ends(shanghai(7), tz), Some(shanghai(8)));
        assert_eq!(
            p.decide(Priority::Marketing, &granted(), shanghai(10), far, tz),
            Verdict::Send
        );
        // A payment reminder that would wait past its expiry is dropped, not sent late.
        assert_eq!(
            p.decide(Priority::Transactional, &granted(), now, now + Duration::hours(2), tz),
            Verdict::Drop(Refusal::Expired)
        );
        let none = QuietHours::parse("00:00-00:00").unwrap();
        assert_eq!(none.ends(now, tz), None);
        assert!(QuietHours::parse("9pm-8am").is_err());
        assert_eq!(p.quiet_hours.to_string(), "21:00-08:00");
    }

    #[test]
    fn consent_and_complaints() {
        let p = ContactPolicy::default();
        let tz = ShopTz::default();
        let now = shanghai(10);
        let far = now + Duration::days(3);
        let unknown = ContactFacts {
            consent: None,
            ..granted()
        };
        assert_eq!(
            p.decide(Priority::Marketing, &unknown, now, far, tz),
            Verdict::Drop(Refusal::NoConsent)
        );
        assert_eq!(p.decide(Priority::Care, &unknown, now, far, tz), Verdict::Send);
        let refused = ContactFacts {
            consent: Some(ConsentState::Denied),
            ..granted()
        };
        for priority in [Priority::Transactional, Priority::Care, Priority::Marketing] {
            assert_eq!(
                p.decide(priority, &refused, now, far, tz),
                Verdict::Drop(Refusal::NoConsent)
            );
        }
        let complaining = ContactFacts {
            open_complaint: true,
            ..granted()
        };
        assert!(matches!(
            p.decide(Priority::Marketing, &complaining, now, far, tz),
            Verdict::Defer {
                hold: Hold::Complaint,
                ..
            }
        ));
        assert_eq!(
            p.decide(Priority::Transactional, &complaining, now, far, tz),
            Verdict::Send
        );
        let nowhere = ContactFacts {
            reachable: false,
            ..granted()
        };
        assert_eq!(
            p.decide(Priority::Care, &nowhere, now, far, tz),
            Verdict::Drop(Refusal::Unreachable)
        );
    }

    #[test]
    fn caps_hold_by_priority() {
        let p = ContactPolicy::default();
        let tz = ShopTz::default();
        let now = shanghai(10);
        let far = now + Duration::days(3);
        let midnight = next_local_midnight(now, tz);
        assert_eq!(midnight, shanghai(0) + Duration::days(1));
        let one_today = ContactFacts {
            sent_today_channel: 1,
            sent_today: 1,
            sent_week: 1,
            ..granted()
        };
        assert_eq!(
            p.decide(Priority::Care, &one_today, now, far, tz),
            Verdict::Defer {
                until: midnight,
                hold: Hold::DailyChannelCap
            }
        );
        assert_eq!(
            p.decide(Priority::Transactional, &one_today, now, far, tz),
            Verdict::Send
        );
        let other_channel = ContactFacts {
            sent_today_channel: 0,
            sent_today: 2,
            ..one_today
        };
        assert!(matches!(
            p.decide(Priority::Care, &other_channel, now, far, tz),
            Verdict::Defer {
                hold: Hold::DailyCap,
                ..
            }
        ));
        let tolerant = ContactFacts {
            sent_today_channel: 0,
            sent_today: 0,
            sent_week: 3,
            tolerance_per_week: Some(5),
            ..granted()
        };
        assert_eq!(p.decide(Priority::Marketing, &tolerant, now, far, tz), Verdict::Send);
        let touchy = ContactFacts {
            tolerance_per_week: Some(1),
            ..tolerant
        };
        assert!(matches!(
            p.decide(Priority::Marketing, &touchy, now, far, tz),
            Verdict::Defer {
                hold: Hold::WeeklyTolerance,
                ..
            }
        ));
        // Care is not held by the weekly tolerance.
        assert_eq!(p.decide(Priority::Care, &touchy, now, far, tz), Verdict::Send);
    }
}
