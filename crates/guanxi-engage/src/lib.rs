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

use chrono::{DateTime, Utc};
use guanxi_store::{Store, StoreError};
use serde::Serialize;

// The channels (SMTP, HTTP gateways: lettre, reqwest) and what sends through them — the
// workers and the engine — are the `channels` feature: the web and the use cases read
// programs, links and statistics without them.
pub mod campaign;
#[cfg(feature = "channels")]
pub mod channel;
pub mod dry_run;
#[cfg(feature = "channels")]
mod engine;
pub mod links;
pub mod schedule;
#[cfg(feature = "sink")]
pub mod sink;
pub mod stats;
pub mod templates;
#[cfg(feature = "channels")]
pub mod worker;

#[cfg(feature = "channels")]
pub use channel::{Channels, Outgoing, SendError, Transport};
pub use dry_run::{DryRun, dry_run};
#[cfg(feature = "channels")]
pub use engine::{Engine, Ran, between_passes, supervise, worker_name};
pub use links::{LinkKey, LinkKind, is_opt_out, signature, signature_matches};
pub use schedule::{Loaded, Mode, Planned, Scheduler};
pub use templates::Templates;
#[cfg(feature = "channels")]
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

/// What is wrong with the engagement engine, kept in the store (the setting
/// [`Health::SETTING`]) so that `guanxi status` and the programs page of any instance show
/// it: programs skipped by the last pass, and the engine's last stop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Health {
    /// Programs the last scheduler pass skipped, with why.
    pub programs: Vec<schedule::Broken>,
    /// The engine's last failure (a panic), when, and how often it was restarted.
    pub last_stop: Option<Stop>,
    pub restarts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Stop {
    pub at: DateTime<Utc>,
    pub error: String,
}

impl Health {
    pub const SETTING: &str = "engine.health";

    pub async fn read(store: &dyn Store) -> Result<Health, EngageError> {
        Ok(match store.setting(Self::SETTING).await? {
            // A record another version wrote that this one cannot read says nothing.
            Some(text) => serde_json::from_str(&text).unwrap_or_default(),
            None => Health::default(),
        })
    }

    pub async fn write(&self, store: &dyn Store) -> Result<(), EngageError> {
        let text = serde_json::to_string(self).map_err(|e| EngageError::Store(e.to_string()))?;
        Ok(store.set_setting(Self::SETTING, &text).await?)
    }
}
