//! `guanxi program …`: the engagement programs — list, enable, disable, run, stats and
//! dry runs.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use guanxi_domain::profile::Settings;
use guanxi_domain::program::Program;
use guanxi_domain::{ShopTz, parse_timestamp};
use guanxi_engage::{Channels, Engine, LinkKey, Loaded, Templates, Worker};
use guanxi_store::ProgramState;
use serde::Serialize;

use guanxi_app::access::Actor;

use crate::cli::{Global, ProgramCommand};
use crate::commands::default_db;
use crate::open::{Opened, open};
use crate::output::{BadInput, done, report};

pub async fn run(global: &Global, cmd: ProgramCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    match cmd {
        ProgramCommand::List => {
            let listed = list(&o).await?;
            report(global.json, &listed, |ps| ps.iter().map(text).collect())
        }
        ProgramCommand::Enable { program, since } => {
            let (p, definition) = resolve(&o, &program).await?;
            let since = match since {
                Some(s) => time(&s, o.tz, "--since")?,
                None => Utc::now(),
            };
            let (settings, _) = super::config::load(global)?;
            guanxi_app::programs::enable(
                o.store.as_ref(),
                &p,
                definition,
                &settings.coupons,
                since,
                &Actor::cli(),
            )
            .await?;
            done(
                global.json,
                format!("program '{}' enabled: runs start from {}", p.name, since.to_rfc3339()),
                serde_json::json!({"program": p.name, "since": since}),
            )
        }
        ProgramCommand::Disable { name } => {
            guanxi_app::programs::disable(o.store.as_ref(), &name, &Actor::cli()).await?;
            done(
                global.json,
                format!("program '{name}' disabled"),
                serde_json::json!({"program": name}),
            )
        }
        ProgramCommand::Run { now, lease_secs, batch } => {
            let now = now.map(|s| time(&s, o.tz, "--now")).transpose()?;
            let (settings, _) = super::config::load(global)?;
            let engine = engine(&o, &settings, lease_secs, batch).await?;
            let ran = engine.until_idle(now).await?;
            report(global.json, &ran, |r| {
                let skipped: String = r
                    .skipped
                    .iter()
                    .map(|b| format!("program '{}' skipped: {}\n", b.program, b.error))
                    .collect();
                skipped
                    + &format!(
                        "queued {}; sent {}, deferred {}, dropped {}, to retry {}, dead-lettered {}\n",
                        r.planned, r.worked.sent, r.worked.deferred, r.worked.dropped, r.worked.retried, r.worked.dead
                    )
            })
        }
        ProgramCommand::Stats { name, window_days } => {
            let stats = guanxi_app::programs::stats(o.store.as_ref(), name.as_deref(), window_days).await?;
            report(global.json, &stats, stats_text)
        }
        ProgramCommand::DryRun { program, from, to } => {
            let (p, definition) = resolve(&o, &program).await?;
            let from = time(&from, o.tz, "--from")?;
            let to = end_of(&to, o.tz)?;
            let (settings, _) = super::config::load(global)?;
            let loaded = Loaded {
                state: ProgramState {
                    name: p.name.clone(),
                    definition,
                    enabled: true,
                    since: Some(from),
                    updated_at: Utc::now(),
                },
                program: p,
            };
            let r = guanxi_engage::dry_run(o.store.as_ref(), &settings, o.tz, &loaded, from, to).await?;
            report(global.json, &r, dry_run_text)
        }
    }
}

/// The shop's templates: the built-in ones, with `[channels] templates` over them.
pub fn templates(settings: &Settings) -> anyhow::Result<Templates> {
    let mut templates = Templates::builtin();
    if let Some(path) = &settings.channels.templates {
        let text = std::fs::read_to_string(path).map_err(|e| BadInput {
            code: "templates_file",
            message: format!("channels.templates: cannot read {path}: {e}"),
        })?;
        templates.merge(&text, path)?;
    }
    Ok(templates)
}

/// The engine (scheduler and worker) over an open store, with the settings' channels and
/// contact policy and the shop's link key.
pub async fn engine(o: &Opened, settings: &Settings, lease_secs: u32, batch: u32) -> anyhow::Result<Engine> {
    let channels = Channels::from_settings(&settings.channels)?;
    let templates = templates(settings)?;
    Ok(Engine {
        worker: Worker {
            store: o.store.clone(),
            channels,
            templates: Arc::new(templates),
            policy: settings.contact.clone(),
            delivery: settings.channels.clone(),
            links: LinkKey::load(o.store.as_ref()).await?,
            tz: o.tz,
            name: guanxi_engage::worker_name(),
            lease: Duration::seconds(i64::from(lease_secs.max(1))),
            batch: batch.max(1),
        },
        every: StdDuration::from_secs(30),
        columns: Default::default(),
        wake: Default::default(),
        coupons: settings.coupons.clone(),
        tiers: settings.tiers.clone(),
    })
}

pub(crate) fn time(s: &str, tz: ShopTz, flag: &str) -> Result<DateTime<Utc>, BadInput> {
    parse_timestamp(s, tz).map_err(|e| BadInput {
        code: "bad_time",
        message: format!("{flag}: {e}"),
    })
}

/// A date's end (a dry run's `--to 2026-06-30` includes that day), or the moment given.
fn end_of(s: &str, tz: ShopTz) -> Result<DateTime<Utc>, BadInput> {
    if s.trim().len() == 10 {
        return guanxi_app::profiles::end_of_day(s, tz, "--to").map_err(|e| BadInput {
            code: e.code(),
            message: e.to_string(),
        });
    }
    time(s, tz, "--to")
}

/// A program by built-in name, stored name, or definition file, with its definition text.
async fn resolve(o: &Opened, asked: &str) -> anyhow::Result<(Program, String)> {
    if asked.ends_with(".toml") || std::path::Path::new(asked).is_file() {
        let text = std::fs::read_to_string(asked).map_err(|e| BadInput {
            code: "program_file",
            message: format!("cannot read {asked}: {e}"),
        })?;
        let p = Program::parse(&text, asked).map_err(|e| BadInput {
            code: "program_definition",
            message: e.to_string(),
        })?;
        return Ok((p, text));
    }
    match guanxi_app::programs::find(o.store.as_ref(), asked).await? {
        Some(found) => Ok(found),
        None => {
            // The command line also takes a definition file.
            let e = guanxi_app::programs::unknown(asked);
            Err(BadInput {
                code: e.code(),
                message: format!("{e}, or a .toml file"),
            }
            .into())
        }
    }
}

#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    program: Program,
    enabled: bool,
    since: Option<DateTime<Utc>>,
}

/// The built-ins and the store's programs, with their state.
async fn list(o: &Opened) -> anyhow::Result<Vec<Listed>> {
    Ok(guanxi_engage::schedule::catalogue(o.store.as_ref())
        .await?
        .into_iter()
        .map(|k| Listed {
            program: k.program,
            enabled: k.state.as_ref().is_some_and(|s| s.enabled),
            since: k.state.and_then(|s| s.since),
        })
        .collect())
}

/// One program as text: its name, title, priority, trigger and steps.
fn text(l: &Listed) -> String {
    let p = &l.program;
    let state = if l.enabled { "enabled" } else { "off" };
    let mut out = format!("{} — {} ({:?}; {}) [{state}]\n", p.name, p.title, p.priority, p.trigger);
    for s in &p.steps {
        let wait = s.after.to_string();
        let from = s.on.map_or(String::new(), |e| format!(" after {}", e.name()));
        out += &format!("  {:<10} {wait:>5}{from}: {}\n", s.name, s.action);
    }
    if !p.stop_on.is_empty() {
        let stops: Vec<&str> = p.stop_on.iter().map(|e| e.name()).collect();
        out += &format!("  stops on {}\n", stops.join(", "));
    }
    out
}

fn stats_text(rows: &Vec<guanxi_engage::stats::StepStats>) -> String {
    if rows.is_empty() {
        return "no messages yet (guanxi program enable …, then guanxi serve or guanxi program run)\n".into();
    }
    let mut out = format!(
        "{:<22} {:<10} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7} {:>9} {:>7}\n",
        "program",
        "step",
        "queued",
        "sent",
        "delivered",
        "clicked",
        "unsub",
        "dropped",
        "failed",
        "converted",
        "actions"
    );
    let lifts: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let l = r.lift.as_ref()?;
            Some(format!(
                "{} {}: {} of {} treated bought within the window, {} of {} held out; lift {} points\n",
                r.program,
                r.step,
                l.treated_converted,
                l.treated,
                l.held_converted,
                l.held,
                guanxi_web::campaigns::interval(l.conversion_lift, 100.0)
            ))
        })
        .collect();
    for r in rows {
        out += &format!(
            "{:<22} {:<10} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7} {:>9} {:>7}\n",
            r.program,
            r.step,
            r.queued,
            r.sent,
            r.delivered,
            r.clicked,
            r.unsubscribed,
            r.dropped,
            r.failed,
            r.converted,
            r.actions
        );
    }
    if !lifts.is_empty() {
        out += "against the holdout:\n";
        out += &lifts.concat();
    }
    out
}

fn dry_run_text(r: &guanxi_engage::DryRun) -> String {
    let mut out = format!(
        "{}: {} runs, {} customers, {} messages due from {} to {}\n",
        r.program,
        r.runs,
        r.customers,
        r.messages,
        r.from.to_rfc3339(),
        r.to.to_rfc3339()
    );
    out += &format!("would send {}\n", r.sent);
    for d in &r.per_day {
        out += &format!("  {} {:<8} {}\n", d.day, d.channel, d.messages);
    }
    for (hold, n) in &r.deferred {
        out += &format!("deferred ({hold}): {n}\n");
    }
    for (why, n) in &r.dropped {
        out += &format!("dropped ({why}): {n}\n");
    }
    out
}
