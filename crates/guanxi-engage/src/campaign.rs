//! Campaigns' waves (issue 16): on each wave's day the scheduler queues the wave for
//! every treated member of a launched campaign — their variant's template and channel —
//! and records every held-out member as held out, in the same ledger as programs' steps,
//! so that each touch happens once whatever passes repeat, and the contact policy (consent,
//! caps, quiet hours) still judges every message when a worker takes it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use guanxi_domain::campaign::{self, Plan, Touch};
use guanxi_domain::program::{Priority, ledger_key};
use guanxi_store::{NewAction, NewMessage, Plan as Outgoing, StoredCampaign};

use crate::EngageError;
use crate::schedule::{Planned, Scheduler};

/// Campaign messages are marketing: the last to go under caps and quiet hours.
const PRIORITY: Priority = Priority::Marketing;

impl Scheduler<'_> {
    /// Queues the waves of every launched campaign that are due by `now` and not yet
    /// expired (a wave whose day passed longer ago than the policy's expiry is not sent
    /// late). A campaign whose plan does not read is skipped with its error.
    pub async fn campaigns(&self, now: DateTime<Utc>) -> Result<Vec<Planned>, EngageError> {
        let mut out = Vec::new();
        for stored in self.store.campaigns().await? {
            if stored.launched_at.is_none() {
                continue;
            }
            let program = campaign::program_name(&stored.name);
            let planned = match Plan::parse(&stored.plan) {
                Ok(plan) => match self.waves(&stored, &plan, now).await {
                    Ok((outgoing, mut planned)) => match self.store.apply(&outgoing).await {
                        Ok(n) => {
                            planned.messages = n;
                            planned
                        }
                        Err(e) => Planned::failed(&program, e.to_string()),
                    },
                    Err(e) => Planned::failed(&program, e.to_string()),
                },
                Err(e) => Planned::failed(&program, format!("campaign {}: {e}", stored.name)),
            };
            out.push(planned);
        }
        Ok(out)
    }

    /// What campaign `stored`'s waves have due at `now` that the ledger does not hold.
    async fn waves(
        &self,
        stored: &StoredCampaign,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Result<(Outgoing, Planned), EngageError> {
        let program = campaign::program_name(&stored.name);
        let mut planned = Planned {
            program: program.clone(),
            ..Planned::default()
        };
        let mut outgoing = Outgoing {
            at: Some(now),
            ..Outgoing::default()
        };
        let mut due = Vec::new();
        for i in 0..plan.waves.len() {
            let Some(at) = self.tz.start_of(plan.wave_day(i)) else {
                continue;
            };
            if at > now {
                planned.due_later(Some(at));
            } else if self.policy.expires(PRIORITY, at) > now {
                due.push((i, at));
            }
        }
        if due.is_empty() {
            return Ok((outgoing, planned));
        }
        let members = self.store.all_campaign_members(stored.id).await?;
        planned.runs = members.len() as u64;
        let bought: HashSet<i64> = match self.tz.start_of(plan.wave_day(0)) {
            Some(first) if plan.exclude_buyers => {
                let ids: Vec<i64> = members.iter().map(|m| m.customer_id).collect();
                self.store
                    .paid_since(&ids, first)
                    .await?
                    .into_iter()
                    .filter(|(_, at)| *at <= now)
                    .map(|(c, _)| c)
                    .collect()
            }
            _ => HashSet::new(),
        };
        let occurrence = format!("c{}", stored.id);
        for (i, at) in due {
            let step = Plan::wave_step(i);
            for m in &members {
                let bought = bought.contains(&m.customer_id);
                let key = ledger_key(m.customer_id, &program, &step, &occurrence);
                let variant = m.variant.map(|v| v as usize);
                // The variant's coupon comes with the first wave (once: its own key).
                if let (0, Some(v)) = (i, variant)
                    && let Some(coupon) = plan.variant(m.audience as usize, v).coupon
                {
                    self.coupons
                        .named(&coupon)
                        .map_err(|e| EngageError::Program(format!("campaign {}: {e}", stored.name)))?;
                    outgoing.actions.push(NewAction {
                        ledger_key: ledger_key(m.customer_id, &program, "coupon", &occurrence),
                        customer_id: m.customer_id,
                        program: program.clone(),
                        step: "coupon".into(),
                        action: "coupon",
                        detail: coupon,
                        due_at: at,
                    });
                }
                match plan.touch(m.audience as usize, variant, i, bought) {
                    Some(Touch::Send { channel, template }) => outgoing.messages.push(NewMessage {
                        ledger_key: key,
                        customer_id: m.customer_id,
                        channel,
                        program: program.clone(),
                        step: step.clone(),
                        template,
                        priority: PRIORITY,
                        order_id: None,
                        due_at: at,
                        expires_at: self.policy.expires(PRIORITY, at),
                    }),
                    Some(Touch::Hold) => outgoing.actions.push(NewAction {
                        ledger_key: key,
                        customer_id: m.customer_id,
                        program: program.clone(),
                        step: step.clone(),
                        action: "holdout",
                        detail: plan
                            .audiences
                            .get(m.audience as usize)
                            .map(|a| a.name.clone())
                            .unwrap_or_default(),
                        due_at: at,
                    }),
                    None => {}
                }
            }
        }
        self.drop_recorded(&mut outgoing).await?;
        self.issue_coupons(&mut outgoing, now).await?;
        Ok((outgoing, planned))
    }
}
