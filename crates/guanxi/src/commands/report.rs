//! `guanxi report movements`: the class changes recorded between profile builds.

use std::collections::BTreeMap;

use guanxi_store::Movement;
use serde::Serialize;

use crate::cli::{Global, ReportCommand};
use crate::commands::{default_db, profile};
use crate::open::open;
use crate::output::report;

#[derive(Serialize)]
struct Movements {
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Per class kind: every (from, to) pair with how many customers moved.
    kinds: BTreeMap<String, Vec<Movement>>,
}

pub async fn run(global: &Global, cmd: ReportCommand) -> anyhow::Result<()> {
    let ReportCommand::Movements { since } = cmd;
    let o = open(global, default_db()).await?;
    let since = since.map(|d| profile::end_of_day(&d, o.tz)).transpose()?;
    let mut kinds: BTreeMap<String, Vec<Movement>> = BTreeMap::new();
    for m in o.store.movements(since).await? {
        kinds.entry(m.kind.clone()).or_default().push(m);
    }
    report(global.json, &Movements { since, kinds }, text)
}

fn text(m: &Movements) -> String {
    if m.kinds.is_empty() {
        return "no class changes recorded: they appear from the second profile build on\n".into();
    }
    let mut out = String::new();
    for (kind, moves) in &m.kinds {
        let total: u64 = moves.iter().map(|m| m.customers).sum();
        out += &format!("{kind} ({total} changes)\n");
        for mv in moves {
            out += &format!(
                "  {:>16} → {:<16} {}\n",
                mv.from.as_deref().unwrap_or("(none)"),
                mv.to.as_deref().unwrap_or("(none)"),
                mv.customers
            );
        }
    }
    out
}
