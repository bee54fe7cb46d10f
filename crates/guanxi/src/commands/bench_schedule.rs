//! `guanxi bench schedule`: a scheduler pass over a generated shop with the seven built-in
//! programs enabled — each program's first pass (runs started, messages queued in one
//! transaction) and the steady pass after it (the same window read again, nothing new),
//! timed. The pass `guanxi serve` repeats every 30 s (or 4 × a slow pass). Figures are printed, never asserted.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::program::builtin;
use guanxi_engage::Scheduler;
use guanxi_engage::schedule::load;
use guanxi_store::ProgramState;
use serde::Serialize;

use crate::cli::Global;
use crate::commands::bench::peak_rss_mib;
use crate::commands::config;
use crate::open::open;
use crate::output::{BadInput, report};

#[derive(Serialize)]
struct Pass {
    program: String,
    runs: u64,
    queued: u64,
    entered: u64,
    first_s: f64,
    steady_s: f64,
    /// Queued by the steady pass, 30 s later: only what fell due in those 30 s.
    steady_queued: u64,
}

#[derive(Serialize)]
struct Figures {
    customers: u64,
    orders: u64,
    /// The two profile builds made first (not part of the pass).
    builds_s: f64,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
    passes: Vec<Pass>,
    first_s: f64,
    steady_s: f64,
    peak_rss_mib: Option<f64>,
}

pub async fn run(global: &Global, dir: &Path, days: u32) -> anyhow::Result<()> {
    let (settings, _) = config::load(global)?;
    // The programs run on a copy, so that every run starts with an empty outbox. Copied
    // before this process opens the shop: the file is at rest.
    let shop = dir.join("bench.db");
    if !shop.exists() {
        return Err(BadInput {
            code: "bench_no_shop",
            message: format!(
                "no shop in {0}: generate one with `guanxi bench profile --orders 1000000 --dir {0}`",
                dir.display()
            ),
        }
        .into());
    }
    let copy = dir.join("schedule.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
    }
    for suffix in ["", "-wal"] {
        let from = format!("{}{suffix}", shop.display());
        if Path::new(&from).exists() {
            std::fs::copy(&from, format!("{}{suffix}", copy.display())).with_context(|| format!("copying {from}"))?;
        }
    }
    let mut g = global.clone();
    g.db = Some(copy.clone());
    g.lake = Some(dir.join("bench.lake"));
    g.database_url = None;
    let o = open(&g, &copy).await?;
    let counts = o.store.counts().await?;

    // Two builds, `days` before the last one and at the last order, so that class changes
    // (second purchase's trigger) fall inside the window.
    let last = match o.store.latest_build().await? {
        Some(b) => b.as_of,
        None => guanxi_app::profiles::build(o.shop(), &settings, None).await?.as_of,
    };
    let earlier = (last - Duration::days(i64::from(days)))
        .with_timezone(&o.tz.0)
        .date_naive();
    let t = Instant::now();
    guanxi_app::profiles::build(o.shop(), &settings, Some(&earlier.to_string())).await?;
    guanxi_app::profiles::build(o.shop(), &settings, None).await?;
    let builds_s = t.elapsed().as_secs_f64();
    let build = o.store.latest_build().await?.context("a profile build")?;
    let now = build.as_of;
    let since = now - Duration::days(i64::from(days));
    for p in builtin() {
        let state = ProgramState {
            name: p.name.clone(),
            definition: toml::to_string(&p)?,
            enabled: true,
            since: Some(since),
            updated_at: Utc::now(),
        };
        o.store.save_program(&state, "bench").await?;
    }
    let programs = load(o.store.as_ref()).await?;
    let columns = guanxi_store::HeldColumns::default();
    let scheduler = Scheduler {
        store: o.store.as_ref(),
        policy: &settings.contact,
        tz: o.tz,
        columns: Some(&columns),
        coupons: &settings.coupons,
        tiers: &settings.tiers,
    };
    eprintln!(
        "scheduling {} programs over {} customers at {now}…",
        programs.len(),
        counts.customers
    );
    let mut passes = Vec::new();
    for p in &programs {
        let one = std::slice::from_ref(p);
        let t = Instant::now();
        let planned = scheduler.pass(one, now).await?;
        let first_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let again = scheduler.pass(one, now + Duration::seconds(30)).await?;
        let steady_s = t.elapsed().as_secs_f64();
        let sum = |f: fn(&guanxi_engage::Planned) -> u64| planned.iter().map(f).sum::<u64>();
        passes.push(Pass {
            program: p.program.name.clone(),
            runs: sum(|x| x.runs),
            queued: sum(|x| x.messages),
            entered: sum(|x| x.entered),
            first_s,
            steady_s,
            steady_queued: again.iter().map(|a| a.messages).sum(),
        });
    }
    let f = Figures {
        customers: counts.customers,
        orders: counts.orders,
        builds_s,
        now,
        since,
        first_s: passes.iter().map(|p| p.first_s).sum(),
        steady_s: passes.iter().map(|p| p.steady_s).sum(),
        passes,
        peak_rss_mib: peak_rss_mib(),
    };
    report(global.json, &f, text)
}

fn text(f: &Figures) -> String {
    let mut out = format!(
        "guanxi bench schedule: {} customers, {} orders (two profile builds first: {:.1} s); the seven built-ins enabled from {} and run at {}\n",
        f.customers,
        f.orders,
        f.builds_s,
        f.since.format("%Y-%m-%d %H:%M"),
        f.now.format("%Y-%m-%d %H:%M")
    );
    out += "  program                    runs     queued    entered   first pass   steady pass (queued)\n";
    for p in &f.passes {
        out += &format!(
            "  {:<22} {:>8} {:>10} {:>10} {:>10.2} s {:>11.2} s ({})\n",
            p.program, p.runs, p.queued, p.entered, p.first_s, p.steady_s, p.steady_queued
        );
    }
    out += &format!(
        "  all six                                                {:>8.2} s {:>11.2} s   (peak RSS {} MiB)\n",
        f.first_s,
        f.steady_s,
        f.peak_rss_mib.map_or("?".into(), |m| format!("{m:.0}"))
    );
    out
}
