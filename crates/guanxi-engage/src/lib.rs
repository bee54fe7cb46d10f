//! guanxi's engagement engine (docs/domain.md §5): programs become messages that reach
//! customers through real channels, under the contact policy, exactly once.
//!
//! - [`schedule`]: a pass over the enabled programs writes what is due to the outbox (the
//!   store's `messages`, keyed by the send ledger) in one transaction.
//! - [`worker`]: claims due messages, judges each under the contact policy at that moment,
//!   renders ([`templates`]), sends ([`channel`]) and settles it.
//! - [`links`]: signed tracked and unsubscribe links; SMS opt-out replies.
//! - [`Engine`]: the scheduler and workers as a long-running task (`guanxi serve`,
//!   `guanxi program run`).
//!
//! Pure rules (what is due, what the policy allows) are the domain's; this crate does the
//! I/O around them.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use guanxi_store::StoreError;
use serde::Serialize;

pub mod channel;
pub mod dry_run;
pub mod links;
pub mod schedule;
pub mod sink;
pub mod stats;
pub mod templates;
pub mod worker;

pub use channel::{Channels, Outgoing, SendError, Transport};
pub use dry_run::{DryRun, dry_run};
pub use links::{LinkKey, LinkKind, is_opt_out};
pub use schedule::{Loaded, Mode, Planned, Scheduler};
pub use templates::Templates;
pub use worker::{Worked, Worker};

/// An engagement failure, with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum EngageError {
    #[error("store: {0}")]
    Store(String),
    #[error("program: {0}")]
    Program(String),
    #[error("template: {0}")]
    Template(String),
    #[error("channel: {0}")]
    Channel(String),
}

impl EngageError {
    pub fn code(&self) -> &'static str {
        match self {
            EngageError::Store(_) => "engage_store",
            EngageError::Program(_) => "engage_program",
            EngageError::Template(_) => "engage_template",
            EngageError::Channel(_) => "engage_channel",
        }
    }
}

impl From<StoreError> for EngageError {
    fn from(e: StoreError) -> Self {
        EngageError::Store(e.to_string())
    }
}

/// The scheduler and a worker, run together until stopped.
#[derive(Clone)]
pub struct Engine {
    pub worker: Worker,
    /// Time between scheduler passes (longer when a pass is slow: [`between_passes`]).
    pub every: StdDuration,
}

/// What a run of the engine did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ran {
    pub passes: u64,
    pub planned: u64,
    pub worked: Worked,
}

impl Engine {
    /// One scheduler pass, then batches until nothing is due now. Used by
    /// `guanxi program run --once` and by tests with a fixed clock.
    pub async fn until_idle(&self, now: Option<DateTime<Utc>>) -> Result<Ran, EngageError> {
        let clock = || now.unwrap_or_else(Utc::now);
        let w = &self.worker;
        let programs = schedule::load(w.store.as_ref()).await?;
        let scheduler = Scheduler {
            store: w.store.as_ref(),
            policy: &w.policy,
            tz: w.tz,
        };
        let mut ran = Ran {
            passes: 1,
            ..Ran::default()
        };
        ran.planned = scheduler
            .pass(&programs, clock())
            .await?
            .iter()
            .map(|p| p.messages)
            .sum();
        loop {
            let worked = w.batch(clock()).await?;
            ran.worked.add(worked);
            if worked.claimed == 0 {
                return Ok(ran);
            }
        }
    }

    /// Runs for ever: a scheduler pass every `every`, batches in between (pausing a second
    /// when nothing is due). Errors are logged and retried, never fatal: a database
    /// restart must not stop engagement.
    pub async fn run(self) {
        let w = &self.worker;
        let mut last_pass: Option<std::time::Instant> = None;
        let mut pause = self.every;
        let mut programs = Vec::new();
        loop {
            if last_pass.is_none_or(|t| t.elapsed() >= pause) {
                let started = std::time::Instant::now();
                last_pass = Some(started);
                match schedule::load(w.store.as_ref()).await {
                    Ok(p) => programs = p,
                    Err(e) => tracing::error!(code = e.code(), "reading programs: {e}"),
                }
                let scheduler = Scheduler {
                    store: w.store.as_ref(),
                    policy: &w.policy,
                    tz: w.tz,
                };
                match scheduler.pass(&programs, Utc::now()).await {
                    Ok(planned) => {
                        for p in planned.iter().filter(|p| p.messages > 0 || p.entered > 0) {
                            tracing::info!(program = %p.program, queued = p.messages, entered = p.entered, "scheduled");
                        }
                    }
                    Err(e) => tracing::error!(code = e.code(), "scheduler pass: {e}"),
                }
                pause = between_passes(self.every, started.elapsed());
            }
            match w.batch(Utc::now()).await {
                Ok(worked) if worked.claimed > 0 => {
                    tracing::debug!(?worked, "batch");
                }
                Ok(_) => tokio::time::sleep(StdDuration::from_secs(1)).await,
                Err(e) => {
                    tracing::error!(code = e.code(), "worker batch: {e}");
                    tokio::time::sleep(StdDuration::from_secs(5)).await;
                }
            }
        }
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
