//! Workers: take due messages from the outbox, judge each under the contact policy at
//! that moment, render, send through the channel, and settle. Several workers (threads,
//! processes, instances) may run at once: claims are leased and exclusive.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt as _;
use guanxi_domain::program::{ContactPolicy, Delivery, Priority, Refusal, Verdict, next_local_midnight};
use guanxi_domain::{Channel, ShopTz};
use guanxi_store::{Claimed, Recipient, Settle, Store};
use serde::Serialize;

use crate::EngageError;
use crate::channel::{Channels, Outgoing};
use crate::links::{LinkKey, LinkKind};
use crate::schedule::{Loaded, event_time};
use crate::templates::{Templates, Vars};

/// Everything a worker needs.
#[derive(Clone)]
pub struct Worker {
    pub store: Arc<dyn Store>,
    pub channels: Channels,
    pub templates: Arc<Templates>,
    pub policy: ContactPolicy,
    pub delivery: Delivery,
    pub links: LinkKey,
    pub tz: ShopTz,
    /// This worker's name in claims (host and process).
    pub name: String,
    /// How long a claim holds: a worker that dies frees its messages after this.
    pub lease: Duration,
    /// Messages claimed at once.
    pub batch: u32,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Worked {
    pub claimed: u64,
    pub sent: u64,
    pub deferred: u64,
    pub dropped: u64,
    pub retried: u64,
    pub dead: u64,
}

impl Worked {
    pub fn add(&mut self, o: Worked) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.deferred += o.deferred;
        self.dropped += o.dropped;
        self.retried += o.retried;
        self.dead += o.dead;
    }
}

/// Waiting time before attempt `n + 1` after `n` failures: 30 s, 1 min, 2 min … up to 1 h.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(0, 7) as u32;
    Duration::seconds((30 * 2i64.pow(exp)).min(3600))
}

impl Worker {
    /// Claims, judges, sends and settles one batch. The programs are read afresh for each
    /// batch, so that a `guanxi program disable` reaches running workers at their next
    /// batch (a message of a program since disabled is dropped).
    pub async fn batch(&self, now: DateTime<Utc>) -> Result<Worked, EngageError> {
        let claimed = self
            .store
            .claim(&self.name, now, Utc::now(), self.lease, self.batch)
            .await?;
        let mut worked = Worked {
            claimed: claimed.len() as u64,
            ..Worked::default()
        };
        if claimed.is_empty() {
            return Ok(worked);
        }
        let programs = crate::schedule::load(self.store.as_ref()).await?;
        let by_name: HashMap<&str, &Loaded> = programs.iter().map(|p| (p.program.name.as_str(), p)).collect();
        let order_ids: Vec<i64> = claimed.iter().filter_map(|m| m.order_id).collect();
        let orders = self.store.order_events(&order_ids).await?;
        let items = self.store.order_items(&order_ids).await?;
        let customers: Vec<i64> = claimed.iter().map(|m| m.customer_id).collect();
        let today = next_local_midnight(now, self.tz) - Duration::days(1);
        let mut recipients = self
            .store
            .recipients(&customers, today, now - Duration::days(7))
            .await?;

        // The code of the coupon each message's program issued its customer last, for the
        // templates that name `coupon`: one read of those customers' coupons, newest first.
        let mut coupons: HashMap<(i64, String), String> = HashMap::new();
        let needing: Vec<i64> = claimed
            .iter()
            .filter(|m| self.templates.names(&m.template, "coupon"))
            .map(|m| m.customer_id)
            .collect();
        if !needing.is_empty() {
            let filter = guanxi_store::CouponFilter {
                customers: needing,
                limit: u32::MAX,
                ..Default::default()
            };
            for c in self.store.coupons(&filter).await? {
                coupons.entry((c.customer_id, c.source)).or_insert(c.code);
            }
        }

        let mut settled: Vec<(i64, Settle)> = Vec::with_capacity(claimed.len());
        let mut outgoing: Vec<(i64, i64, Outgoing)> = Vec::new();
        for m in &claimed {
            let stopped = match (by_name.get(m.program.as_str()), m.order_id) {
                // A campaign's wave: launched, it goes (the policy still judges it below).
                (None, _) if guanxi_domain::campaign::campaign_of(&m.program).is_some() => None,
                (None, _) => Some("program-disabled"),
                (Some(p), _) if !p.state.enabled => Some("program-disabled"),
                (Some(p), Some(order)) => orders.get(&order).and_then(|o| {
                    // The run's stop event (paid, closed, refunded) came before the send.
                    p.program
                        .stop_on
                        .iter()
                        .any(|e| event_time(o, *e).is_some_and(|t| t <= now))
                        .then_some(Refusal::Stopped.as_str())
                }),
                _ => None,
            };
            if let Some(reason) = stopped {
                settled.push((
                    m.id,
                    Settle::Dropped {
                        at: now,
                        reason: reason.into(),
                    },
                ));
                continue;
            }
            let Some(r) = recipients.get_mut(&m.customer_id) else {
                settled.push((
                    m.id,
                    Settle::Dropped {
                        at: now,
                        reason: "no-customer".into(),
                    },
                ));
                continue;
            };
            if self.channels.get(m.channel).is_none() {
                let until = now + Duration::minutes(15);
                settled.push((m.id, hold_or_drop(until, m.expires_at, "channel-not-configured", now)));
                continue;
            }
            match self
                .policy
                .decide(m.priority, &r.facts(m.channel), now, m.expires_at, self.tz)
            {
                Verdict::Send => {
                    let coupon = coupons.get(&(m.customer_id, m.program.clone())).map(String::as_str);
                    let out = self.compose(m, r, &orders, &items, coupon);
                    match out {
                        Ok(out) => {
                            r.count_sent(m.channel);
                            outgoing.push((m.id, m.attempts, out));
                        }
                        Err(e) => settled.push((
                            m.id,
                            Settle::Dead {
                                at: now,
                                error: e.to_string(),
                            },
                        )),
                    }
                }
                Verdict::Defer { until, hold } => settled.push((
                    m.id,
                    Settle::Deferred {
                        until,
                        reason: hold.as_str().into(),
                    },
                )),
                Verdict::Drop(refusal) => settled.push((
                    m.id,
                    Settle::Dropped {
                        at: now,
                        reason: refusal.as_str().into(),
                    },
                )),
            }
        }

        let concurrency = usize::from(self.delivery.concurrency.max(1));
        // Each result: the message, how it is settled, and whether it already was.
        let results: Vec<Result<(i64, Settle, bool), EngageError>> = futures::stream::iter(outgoing)
            .map(|(id, attempts, out)| {
                let transport = self.channels.get(out.channel).cloned();
                async move {
                    let (r, deduplicates) = match &transport {
                        Some(t) => (t.send(&out).await, t.deduplicates()),
                        None => (
                            Err(crate::channel::SendError {
                                retryable: true,
                                message: "channel not configured".into(),
                            }),
                            true,
                        ),
                    };
                    let settle = self.after_send(attempts, r, now);
                    if deduplicates {
                        return Ok((id, settle, false));
                    }
                    // A provider that would deliver a repeat: settled now, alone.
                    self.store.settle(&[(id, settle.clone())]).await?;
                    Ok((id, settle, true))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut settled_now = Vec::new();
        for r in results {
            let (id, settle, now_settled) = r?;
            if now_settled {
                settled_now.push((id, settle));
            } else {
                settled.push((id, settle));
            }
        }
        for (_, s) in settled.iter().chain(&settled_now) {
            match s {
                Settle::Sent { .. } => worked.sent += 1,
                Settle::Deferred { .. } => worked.deferred += 1,
                Settle::Dropped { .. } => worked.dropped += 1,
                Settle::Retry { .. } => worked.retried += 1,
                Settle::Dead { .. } => worked.dead += 1,
            }
        }
        self.store.settle(&settled).await?;
        Ok(worked)
    }

    /// How a message is settled after its send: sent, retried later (with backoff) while
    /// attempts remain and the failure may pass, else dead. Stamped with the batch's
    /// clock, so that a replay (`--now`) records sends at its own moment.
    fn after_send(&self, attempts: i64, r: Result<(), crate::channel::SendError>, now: DateTime<Utc>) -> Settle {
        match r {
            Ok(()) => Settle::Sent { at: now },
            Err(e) if e.retryable && attempts + 1 < i64::from(self.policy.max_attempts) => Settle::Retry {
                at: now + backoff(attempts),
                error: e.message,
            },
            Err(e) => Settle::Dead {
                at: now,
                error: e.message,
            },
        }
    }

    /// Renders one message for its customer.
    fn compose(
        &self,
        m: &Claimed,
        r: &Recipient,
        orders: &HashMap<i64, guanxi_store::OrderEvents>,
        items: &HashMap<i64, Vec<(String, u32)>>,
        coupon: Option<&str>,
    ) -> Result<Outgoing, EngageError> {
        let en = self.delivery.language == "en";
        if coupon.is_none() && self.templates.names(&m.template, "coupon") {
            return Err(EngageError::Template(format!(
                "template {:?} names the coupon, and {} issued customer #{} none (a coupon step before this one issues it)",
                m.template, m.program, m.customer_id
            )));
        }
        let mut vars = Vars {
            name: Vars::addressing(r.name.as_deref(), &self.delivery.language),
            shop: self.delivery.shop_name.clone(),
            link: self.links.url(&self.delivery.base_url, LinkKind::Track, m.id),
            coupon: coupon.unwrap_or_default().to_string(),
            ..Vars::default()
        };
        if let Some(o) = m.order_id.and_then(|id| orders.get(&id)) {
            vars.order = o.external_id.clone();
            vars.items = items
                .get(&o.id)
                .map(|lines| {
                    lines
                        .iter()
                        .map(|(item, qty)| format!("{item} × {qty}"))
                        .collect::<Vec<_>>()
                        .join(if en { ", " } else { "，" })
                })
                .unwrap_or_default();
        }
        let mut rendered = self.templates.render(&m.template, &self.delivery.language, &vars)?;
        let marketing = m.priority == Priority::Marketing;
        let unsubscribe = marketing.then(|| self.links.url(&self.delivery.base_url, LinkKind::Unsubscribe, m.id));
        // Every marketing message carries its way out, whatever the template says.
        if let Some(url) = &unsubscribe {
            match m.channel {
                Channel::Sms => rendered
                    .text
                    .push_str(if en { " Reply TD to opt out" } else { " 回复TD退订" }),
                Channel::Email => rendered
                    .text
                    .push_str(&format!("\n\n{}{url}", if en { "Unsubscribe: " } else { "退订：" })),
                Channel::Wechat | Channel::Webhook => {}
            }
        }
        Ok(Outgoing {
            message_id: m.id,
            key: m.ledger_key.clone(),
            channel: m.channel,
            customer_id: m.customer_id,
            to: r.address(m.channel).unwrap_or_default(),
            program: m.program.clone(),
            step: m.step.clone(),
            template: m.template.clone(),
            subject: rendered.subject,
            text: rendered.text,
            unsubscribe,
        })
    }
}

fn hold_or_drop(until: DateTime<Utc>, expires: DateTime<Utc>, reason: &str, now: DateTime<Utc>) -> Settle {
    if until >= expires {
        Settle::Dropped {
            at: now,
            reason: Refusal::Expired.as_str().into(),
        }
    } else {
        Settle::Deferred {
            until,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let secs: Vec<i64> = (0..9).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
