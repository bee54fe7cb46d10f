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
    for (p, step, _, n) in store.action_counts(program).await? {
        by.entry((p.clone(), step.clone()))
            .or_insert_with(|| StepStats {
                program: p,
                step,
                ..StepStats::default()
            })
            .actions += n;
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
    Ok(by.into_values().collect())
}
