//! `guanxi bench profile`: the profile build over generated data, timed, and DuckDB's
//! RFM + scores + 8-class + pyramid subset on the same Parquet files in the same run.
//! Figures are printed, never asserted (benchmarks are not tests).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use guanxi_demo::DemoConfig;
use guanxi_domain::segment::parse;
use serde::{Deserialize, Serialize};

use crate::cli::{BenchCommand, Global};
use crate::commands::{config, demo};
use crate::open::open;
use crate::output::report;

/// Order lines per demo customer, measured on the demo shop (10,080,115 / 805,000).
const LINES_PER_CUSTOMER: f64 = 12.52;

/// Segment counts timed over the stored profiles.
const SEGMENTS: [&str; 4] = [
    "lifecycle = 'decline'",
    "rfm8 = '重要挽留' and recency_days > 90",
    "tier in ('vip', 'major') and not activity = 'churned'",
    "relationship = 'loyal' and profit > 500 or rfm11 = 'At Risk'",
];

#[derive(Deserialize, Serialize)]
struct Duck {
    seconds: f64,
    buyers: u64,
    rfm8: std::collections::BTreeMap<String, u64>,
    pyramid: std::collections::BTreeMap<String, u64>,
}

/// One live segment count: the first (cold) and the best of the warm ones.
#[derive(Serialize)]
struct SegmentTiming {
    expression: String,
    customers: u64,
    first_ms: f64,
    warm_ms: f64,
}

#[derive(Serialize)]
struct Figures {
    order_lines: u64,
    customers: u64,
    generated_s: Option<f64>,
    buyers: usize,
    build_s: f64,
    phases: guanxi_app::profiles::Phases,
    store_s: f64,
    segment_counts: Vec<SegmentTiming>,
    duckdb: Option<Duck>,
    duckdb_skipped: Option<String>,
    /// guanxi's build (without storing) over DuckDB's subset.
    ratio: Option<f64>,
    /// Whether DuckDB's 8-class and pyramid counts equal guanxi's.
    same_rfm8: Option<bool>,
    same_pyramid: Option<bool>,
    peak_rss_mib: Option<f64>,
}

/// The process's peak resident set (VmHWM), on Linux.
pub fn peak_rss_mib() -> Option<f64> {
    vm_hwm_mib("/proc/self/status")
}

/// The peak resident set (VmHWM) a `/proc/<pid>/status` file states, in MiB.
pub fn vm_hwm_mib(status_file: &str) -> Option<f64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn duckdb(script: &Path, lake: &Path, as_of_us: i64) -> Result<Duck, String> {
    let probe = Command::new("python3").args(["-c", "import duckdb"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => return Err("the duckdb Python package is not importable (pip install duckdb)".into()),
    }
    if !script.exists() {
        return Err(format!(
            "{} not found (run from the repository, or pass --duckdb-script)",
            script.display()
        ));
    }
    let out = Command::new("python3")
        .arg(script)
        .arg(lake)
        .arg(as_of_us.to_string())
        .arg(std::thread::available_parallelism().map_or(2, |n| n.get()).to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!("duckdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("duckdb's output: {e}"))
}

pub async fn run(global: &Global, cmd: BenchCommand) -> anyhow::Result<()> {
    let (orders, dir, duckdb_script) = match cmd {
        BenchCommand::Profile {
            orders,
            dir,
            duckdb_script,
        } => (orders, dir, duckdb_script),
        BenchCommand::Clv {
            customers,
            lifetimes_script,
            lifetimes_models,
        } => return clv(global, customers, &lifetimes_script, &lifetimes_models),
        BenchCommand::Outbox {
            messages,
            dir,
            batch,
            concurrency,
            workers,
        } => return super::bench_outbox::run(global, messages, &dir, batch, concurrency, workers).await,
        BenchCommand::Points { members, dir } => return super::bench_points::run(global, members, &dir).await,
        BenchCommand::Schedule { dir, days } => return super::bench_schedule::run(global, &dir, days).await,
        BenchCommand::Big { customers, orders, dir } => return super::bench_big::run(global, customers, orders, &dir),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut g = global.clone();
    g.db = Some(dir.join("bench.db"));
    g.lake = Some(dir.join("bench.lake"));
    g.database_url = None;
    let o = open(&g, &dir.join("bench.db")).await?;
    let (settings, _) = config::load(global)?;
    let mut counts = o.store.counts().await?;
    let mut generated_s = None;
    // Reuse data of about the asked size; generate otherwise.
    if (counts.order_lines as f64) < orders as f64 * 0.9 {
        anyhow::ensure!(
            counts.orders == 0,
            "{} holds {} order lines, fewer than asked: remove it or choose another --dir",
            dir.display(),
            counts.order_lines
        );
        let cfg = DemoConfig {
            customers: ((orders as f64 / LINES_PER_CUSTOMER).ceil() as u64).max(1),
            tz: o.tz,
            ..Default::default()
        };
        let t = Instant::now();
        demo::load(&o, &cfg).await?;
        generated_s = Some(t.elapsed().as_secs_f64());
        counts = o.store.counts().await?;
    }
    let d = guanxi_app::profiles::build(o.shop(), &settings, None).await?;
    let build_s = d.elapsed_ms as f64 / 1000.0;
    let store_s = d.store_ms.unwrap_or_default() as f64 / 1000.0;
    let mut segment_counts = Vec::new();
    for text in SEGMENTS {
        let e = parse(text).map_err(|e| anyhow::anyhow!(e.render(text, "bench segment")))?;
        // The first count reads cold pages; a user's next counts are warm: both printed.
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..3 {
            let t = Instant::now();
            n = o.store.segment_count(&e, d.as_of).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let warm = times[1..].iter().copied().fold(f64::INFINITY, f64::min);
        segment_counts.push(SegmentTiming {
            expression: text.to_string(),
            customers: n,
            first_ms: times[0],
            warm_ms: warm,
        });
    }
    let lake_dir = g.lake.clone().unwrap_or_default();
    let (duck, skipped) = match duckdb(&duckdb_script, &lake_dir, d.as_of.timestamp_micros()) {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(e)),
    };
    let same = |kind: &str, theirs: &std::collections::BTreeMap<String, u64>| {
        let ours: std::collections::BTreeMap<String, u64> = d
            .classes
            .get(kind)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v as u64)).collect())
            .unwrap_or_default();
        ours == *theirs
    };
    let f = Figures {
        order_lines: counts.order_lines,
        customers: counts.customers,
        generated_s,
        buyers: d.buyers,
        build_s,
        phases: d.phases.clone(),
        store_s,
        segment_counts,
        ratio: duck.as_ref().map(|x| build_s / x.seconds),
        same_rfm8: duck.as_ref().map(|x| same("rfm8", &x.rfm8)),
        same_pyramid: duck.as_ref().map(|x| same("pyramid", &x.pyramid)),
        duckdb: duck,
        duckdb_skipped: skipped,
        peak_rss_mib: peak_rss_mib(),
    };
    report(global.json, &f, text)
}

fn text(f: &Figures) -> String {
    let mut out = format!(
        "guanxi bench profile: {} order lines, {} customers{}\n",
        f.order_lines,
        f.customers,
        f.generated_s
            .map_or(" (reused)".to_string(), |s| format!(" (generated in {s:.1} s)"))
    );
    out += &format!(
        "  guanxi profile build   {:>8.2} s   ({} buyers, every class)\n",
        f.build_s, f.buyers
    );
    for (phase, secs) in &f.phases.0 {
        out += &format!("    {secs:>8.2} s  {phase}\n");
    }
    out += &format!(
        "  storing the build      {:>8.2} s   (profiles + class changes, one transaction)\n",
        f.store_s
    );
    for t in &f.segment_counts {
        out += &format!(
            "  segment count {:>7.1} ms, then {:>6.1} ms  {:>9}  {}\n",
            t.first_ms, t.warm_ms, t.customers, t.expression
        );
    }
    match (&f.duckdb, &f.duckdb_skipped) {
        (Some(d), _) => {
            out += &format!(
                "  duckdb subset          {:>8.2} s   ({} buyers: RFM + scores + 8-class + pyramid)\n",
                d.seconds, d.buyers
            );
            out += &format!(
                "  ratio guanxi / duckdb  {:>8.2}     (target ≤ 0.5)\n",
                f.ratio.unwrap_or_default()
            );
            out += &format!(
                "  same 8-class counts: {}, same pyramid counts: {}\n",
                f.same_rfm8.unwrap_or_default(),
                f.same_pyramid.unwrap_or_default()
            );
        }
        (None, Some(why)) => out += &format!("  duckdb skipped: {why}\n"),
        (None, None) => {}
    }
    if let Some(rss) = f.peak_rss_mib {
        out += &format!("  peak RSS {rss:.0} MiB\n");
    }
    out
}

/// One model fitted by guanxi: how long it took and its parameters by name.
#[derive(Serialize)]
struct ModelTiming {
    model: &'static str,
    seconds: f64,
    params: crate::output::Named<f64>,
}

#[derive(Serialize)]
struct ClvFigures {
    customers: usize,
    distinct_rows: usize,
    guanxi: Vec<ModelTiming>,
    lifetimes: Option<serde_json::Value>,
    lifetimes_skipped: Option<String>,
}

fn timing(model: &'static str, t: Instant, names: &[&'static str], values: &[f64]) -> ModelTiming {
    ModelTiming {
        model,
        seconds: t.elapsed().as_secs_f64(),
        params: crate::output::Named(names.iter().copied().zip(values.iter().copied()).collect()),
    }
}

/// `guanxi bench clv`: customers simulated from BG/NBD with CDNOW-like parameters (days
/// as the unit, so that rows rarely repeat), every model fitted and timed.
fn clv(global: &Global, customers: usize, script: &Path, models: &[String]) -> anyhow::Result<()> {
    use guanxi_domain::clv::{BgNbd, GammaGamma, ParetoNbd, Rft, Variant, group, simulate_bgnbd};
    use rand::SeedableRng;
    let truth = BgNbd {
        variant: Variant::Bg,
        r: 0.243,
        alpha: 4.414 * 7.0,
        a: 0.793,
        b: 2.426,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let rfts: Vec<Rft> = simulate_bgnbd(&truth, customers, 200.0..550.0, &mut rng)
        .context("simulation parameters")?
        .into_iter()
        // Whole days, as a shop's data would be.
        .map(|r| Rft {
            x: r.x,
            t_x: r.t_x.floor(),
            t: r.t.floor(),
        })
        .collect();
    let rows = group(rfts.iter().copied());
    let mut guanxi = Vec::new();
    let t = Instant::now();
    let bg = BgNbd::fit(Variant::Bg, &rows)?;
    guanxi.push(timing(
        "bgnbd",
        t,
        &["r", "alpha", "a", "b"],
        &[bg.params.r, bg.params.alpha, bg.params.a, bg.params.b],
    ));
    let t = Instant::now();
    let mbg = BgNbd::fit(Variant::Mbg, &rows)?;
    guanxi.push(timing(
        "mbgnbd",
        t,
        &["r", "alpha", "a", "b"],
        &[mbg.params.r, mbg.params.alpha, mbg.params.a, mbg.params.b],
    ));
    let t = Instant::now();
    let pnbd = ParetoNbd::fit(&rows)?;
    guanxi.push(timing(
        "pnbd",
        t,
        &["r", "alpha", "s", "beta"],
        &[pnbd.params.r, pnbd.params.alpha, pnbd.params.s, pnbd.params.beta],
    ));
    // Spend: Gamma distributed around a customer mean, for the repeat customers.
    let spend: Vec<(f64, f64, f64)> = rfts
        .iter()
        .enumerate()
        .filter(|(_, r)| r.x > 0.0)
        .map(|(i, r)| (r.x, 20.0 + (i % 50) as f64, 1.0))
        .collect();
    let t = Instant::now();
    let gg = GammaGamma::fit(&spend)?;
    guanxi.push(timing(
        "gg",
        t,
        &["p", "q", "gamma"],
        &[gg.params.p, gg.params.q, gg.params.gamma],
    ));
    let (lifetimes, lifetimes_skipped) = match lifetimes(script, &rfts, models) {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e)),
    };
    let f = ClvFigures {
        customers,
        distinct_rows: rows.len(),
        guanxi,
        lifetimes,
        lifetimes_skipped,
    };
    report(global.json, &f, |f| {
        let mut out = format!(
            "guanxi bench clv: {} simulated customers ({} distinct (x, t_x, T) rows), days\n",
            f.customers, f.distinct_rows
        );
        for m in &f.guanxi {
            let (model, secs) = (m.model, m.seconds);
            let params: Vec<f64> = m.params.0.iter().map(|(_, v)| *v).collect();
            let theirs = f.lifetimes.as_ref().and_then(|l| l[model]["seconds"].as_f64());
            out += &format!(
                "  {model:<7} guanxi {secs:>8.3} s{}   {params:.4?}\n",
                theirs.map_or(String::new(), |l| format!(
                    "   lifetimes {l:>8.2} s   ratio {:>6.0}×",
                    l / secs
                ))
            );
        }
        if let Some(l) = &f.lifetimes {
            out += &format!("  lifetimes: {l}\n");
        }
        if let Some(why) = &f.lifetimes_skipped {
            out += &format!("  lifetimes skipped: {why}\n");
        }
        out
    })
}

fn lifetimes(script: &Path, rfts: &[guanxi_domain::clv::Rft], models: &[String]) -> Result<serde_json::Value, String> {
    match Command::new("python3").args(["-c", "import lifetimes"]).output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("the lifetimes Python package is not importable (pip install lifetimes)".into()),
    }
    if !script.exists() {
        return Err(format!("{} not found (run from the repository)", script.display()));
    }
    let dir = tempfile_dir().map_err(|e| e.to_string())?;
    let csv = dir.join("rows.csv");
    let mut text = String::from("frequency,recency,T\n");
    for r in rfts {
        text += &format!("{},{},{}\n", r.x, r.t_x, r.t);
    }
    std::fs::write(&csv, text).map_err(|e| e.to_string())?;
    let out = Command::new("python3")
        .arg(script)
        .arg(&csv)
        .args(models)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(format!("lifetimes failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("lifetimes' output: {e}"))
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("guanxi-bench-clv-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
