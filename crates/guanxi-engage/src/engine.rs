//! The engine: the scheduler and a worker run together until stopped (`guanxi serve`,
//! `guanxi program run`), restarted when it fails.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::schedule::{self, Scheduler};
use crate::worker::{Worked, Worker};
use crate::{EngageError, Health, Stop};

/// The scheduler and a worker, run together until stopped.
#[derive(Clone)]
pub struct Engine {
    pub worker: Worker,
    /// Time between scheduler passes (longer when a pass is slow: [`between_passes`]).
    pub every: StdDuration,
    /// The latest build's profile columns, for segment members (shared with the web's
    /// live counts when both run in one process).
    pub columns: std::sync::Arc<guanxi_store::HeldColumns>,
    /// Notified when something happened that may make a message due now (a live order
    /// event): the engine runs a pass at once instead of at the next interval.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
    /// The shop's coupons and tiers: what coupon and benefit steps issue.
    pub coupons: guanxi_domain::coupon::Definitions,
    pub tiers: guanxi_domain::tier::Tiers,
}

/// What a run of the engine did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ran {
    pub passes: u64,
    pub planned: u64,
    pub worked: Worked,
    /// Programs the pass skipped, with why.
    pub skipped: Vec<schedule::Broken>,
}

impl Engine {
    /// One scheduler pass, then batches until nothing is due now. Used by
    /// `guanxi program run --once` and by tests with a fixed clock.
    pub async fn until_idle(&self, now: Option<DateTime<Utc>>) -> Result<Ran, EngageError> {
        let clock = || now.unwrap_or_else(Utc::now);
        let mut health = Health::read(self.worker.store.as_ref()).await?;
        let planned = self.pass(clock(), &mut health).await?;
        let mut ran = Ran {
            passes: 1,
            planned: planned.iter().map(|p| p.messages).sum(),
            skipped: health.programs.clone(),
            ..Ran::default()
        };
        loop {
            let worked = self.worker.batch(clock()).await?;
            ran.worked.add(worked);
            if worked.claimed == 0 {
                return Ok(ran);
            }
        }
    }

    /// One scheduler pass over the stored programs at `now`. A program that cannot run
    /// (a definition that does not read, a segment deleted from under it) is skipped
    /// while the others go on, and named in `health` (written to the store when what is
    /// wrong changes) until it runs again.
    async fn pass(&self, now: DateTime<Utc>, health: &mut Health) -> Result<Vec<schedule::Planned>, EngageError> {
        let w = &self.worker;
        let (programs, mut problems) = schedule::load_all(w.store.as_ref()).await?;
        let scheduler = Scheduler {
            store: w.store.as_ref(),
            policy: &w.policy,
            tz: w.tz,
            columns: Some(&self.columns),
            coupons: &self.coupons,
            tiers: &self.tiers,
        };
        let mut planned = scheduler.pass(&programs, now).await?;
        planned.extend(scheduler.campaigns(now).await?);
        for p in &planned {
            if let Some(error) = &p.error {
                tracing::error!(program = %p.program, "program skipped: {error}");
                problems.push(schedule::Broken {
                    program: p.program.clone(),
                    error: error.clone(),
                });
            }
        }
        if problems != health.programs {
            health.programs = problems;
            health.write(w.store.as_ref()).await?;
        }
        Ok(planned)
    }

    /// Runs for ever: a scheduler pass every `every`, batches in between (pausing a second
    /// when nothing is due). Errors are logged and retried, never fatal: a database
    /// restart must not stop engagement. A program that cannot run (a definition that
    /// does not read, a segment deleted from under it) is skipped while the others go
    /// on, and named in the engine's [`Health`] until it runs again.
    pub async fn run(self) {
        let w = &self.worker;
        let mut last_pass: Option<std::time::Instant> = None;
        let mut pause = self.every;
        let mut health = Health::read(w.store.as_ref()).await.unwrap_or_default();
        // The earliest minute a step of the runs the last pass saw falls due: planned
        // then (a payment reminder at its 30th minute), not at the next interval.
        let mut next_due: Option<DateTime<Utc>> = None;
        loop {
            if last_pass.is_none_or(|t| t.elapsed() >= pause) || next_due.is_some_and(|t| Utc::now() >= t) {
                let started = std::time::Instant::now();
                last_pass = Some(started);
                match self.pass(Utc::now(), &mut health).await {
                    Ok(planned) => {
                        for p in planned.iter().filter(|p| p.messages > 0 || p.entered > 0) {
                            tracing::info!(program = %p.program, queued = p.messages, entered = p.entered, "scheduled");
                        }
                        next_due = planned.iter().filter_map(|p| p.next_due).min();
                    }
                    Err(e) => tracing::error!(code = e.code(), "scheduler pass: {e}"),
                }
                pause = between_passes(self.every, started.elapsed());
            }
            match w.batch(Utc::now()).await {
                Ok(worked) if worked.claimed > 0 => {
                    tracing::debug!(?worked, "batch");
                }
                Ok(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                        // An event came in: plan now (what it made due is queued within
                        // the pass, and sent by the batch right after it).
                        _ = self.wake.notified() => last_pass = None,
                    }
                }
                Err(e) => {
                    tracing::error!(code = e.code(), "worker batch: {e}");
                    tokio::time::sleep(StdDuration::from_secs(5)).await;
                }
            }
        }
    }
}

/// Runs the engine for ever: when it fails (a panic in a pass or a batch), the failure
/// is logged and recorded in its [`Health`], and the engine starts again after a pause —
/// the web beside it goes on either way.
pub async fn supervise(engine: Engine) {
    loop {
        let failure = match tokio::spawn(engine.clone().run()).await {
            Ok(()) => "the engine returned".to_string(),
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into())
            }
            Err(e) => e.to_string(),
        };
        tracing::error!("the engagement engine stopped ({failure}); restarting in 5 s");
        let store = engine.worker.store.as_ref();
        let mut health = Health::read(store).await.unwrap_or_default();
        health.last_stop = Some(Stop {
            at: Utc::now(),
            error: failure,
        });
        health.restarts += 1;
        if let Err(e) = health.write(store).await {
            tracing::error!(code = e.code(), "recording the engine's health: {e}");
        }
        tokio::time::sleep(StdDuration::from_secs(5)).await;
    }
}

/// The time from one scheduler pass's start to the next: `every`, or four times the pass
/// when that is longer, so that passes take at most a quarter of the time (a pass over a
/// million-customer shop takes seconds: `guanxi bench schedule`) and the workers keep the
/// rest.
pub fn between_passes(every: StdDuration, took: StdDuration) -> StdDuration {
    every.max(took * 4)
}

/// A worker's name for claims: host and process id, unique among live workers.
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "guanxi".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_pass_spaces_the_next_so_that_passes_take_a_quarter_of_the_time() {
        let every = StdDuration::from_secs(30);
        assert_eq!(between_passes(every, StdDuration::from_millis(240)), every);
        assert_eq!(between_passes(every, StdDuration::from_secs(7)), every);
        assert_eq!(
            between_passes(every, StdDuration::from_secs(10)),
            StdDuration::from_secs(40)
        );
    }
}
