//! What programs did, per step: messages by outcome, clicks, conversions (a paid order
//! within the attribution window after the message), and actions. One computation for
//! `guanxi program stats` and the web's programs page.

use std::collections::BTreeMap;

use chrono::Duration;
use guanxi_store::Store;
use serde::Serialize;

use crate::EngageError;

/// Messages of one program step, by outcome.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StepStats {
    pub program: String,
    pub step: String,
    pub queued: u64,
    pub sent: u64,
    /// Sent messages the provider reported delivered.
    pub delivered: u64,
    pub clicked: u64,
    pub unsubscribed: u64,
    pub dropped: u64,
    pub failed: u64,
    /// Sent messages followed by a paid order within the window.
    pub converted: u64,
    /// Steps that are not messages (tags, tasks, coupons, points) decided.
    pub actions: u64,
    /// Customers held out of the step (the program's holdout).
    pub held: u64,
    /// With a holdout: the step's customers (every message queued for it, sent or not)
    /// and the held out, each with a paid order within the window after the step fell
    /// due, and the lift of the first over the second (Newcombe's 95 % interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lift: Option<StepLift>,
}

/// What a step adds over doing nothing, against its holdout.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StepLift {
    pub treated: u64,
    pub treated_converted: u64,
    pub held: u64,
    pub held_converted: u64,
    /// Treated − held conversion rate (0.02 = 2 points), with its interval.
    pub conversion_lift: Option<guanxi_domain::campaign::effect::Estimate>,
}

/// Per program step: messages by outcome, conversions within `window` after sending,
/// and actions; of one program or all.
pub async fn step_stats(
    store: &dyn Store,
    program: Option<&str>,
    window: Duration,
) -> Result<Vec<StepStats>, EngageError> {
    let mut by: BTreeMap<(String, String), StepStats> = BTreeMap::new();
    let counts = store.message_counts(program).await?;
    for c in &counts {
        let s = by
            .entry((c.program.clone(), c.step.clone()))
            .or_insert_with(|| StepStats {
                program: c.program.clone(),
                step: c.step.clone(),
                ..StepStats::default()
            });
        use guanxi_domain::MessageStatus as M;
        match c.status {
            M::Queued => s.queued += c.count,
            M::Sent | M::Replied => s.sent += c.count,
            M::Delivered => {
                s.sent += c.count;
                s.delivered += c.count;
            }
            M::Clicked => {
                s.sent += c.count;
                s.clicked += c.count;
            }
            M::Unsubscribed => {
                s.sent += c.count;
                s.unsubscribed += c.count;
            }
            M::Dropped => s.dropped += c.count,
            M::Failed => s.failed += c.count,
        }
    }
    for (p, step, action, n) in store.action_counts(program).await? {
        let s = by.entry((p.clone(), step.clone())).or_insert_with(|| StepStats {
            program: p,
            step,
            ..StepStats::default()
        });
        if action == "holdout" {
            s.held += n;
        } else {
            s.actions += n;
        }
    }
    let programs: std::collections::BTreeSet<String> = by.keys().map(|k| k.0.clone()).collect();
    for p in programs {
        for m in store.sent_messages(&p).await? {
            if m.next_paid_at.is_some_and(|t| t - m.sent_at <= window)
                && let Some(s) = by.get_mut(&(p.clone(), m.step.clone()))
            {
                s.converted += 1;
            }
        }
    }
    let held: std::collections::BTreeSet<String> =
        by.values().filter(|s| s.held > 0).map(|s| s.program.clone()).collect();
    for p in held {
        let mut arms: BTreeMap<String, StepLift> = BTreeMap::new();
        for a in store.step_arms(&p).await? {
            let l = arms.entry(a.step).or_default();
            let converted = a.next_paid_at.is_some_and(|t| t - a.due_at <= window);
            if a.held {
                l.held += 1;
                l.held_converted += u64::from(converted);
            } else {
                l.treated += 1;
                l.treated_converted += u64::from(converted);
            }
        }
        for (step, mut l) in arms {
            l.conversion_lift = guanxi_domain::campaign::effect::newcombe(
                l.treated_converted,
                l.treated,
                l.held_converted,
                l.held,
                guanxi_domain::campaign::effect::CONFIDENCE,
            );
            if let Some(s) = by.get_mut(&(p.clone(), step)) {
                s.lift = Some(l);
            }
        }
    }
    Ok(by.into_values().collect())
}
