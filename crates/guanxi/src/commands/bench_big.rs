//! `guanxi bench big`: a big shop end to end, as a user meets it. Generates (or reuses) a
//! generic orders file of single-line orders in time order — the shape of a shop's
//! order history export — and times, each as its own `guanxi` process (so that each has
//! its own peak memory): the import, the re-import (nothing changes), the profile build
//! and its storing, then through a running `guanxi serve` the dashboard, each report
//! page, the customers list and live segment counts; DuckDB's `read_csv` of the same file
//! and the profile build's RFM subset from it when the duckdb Python package is
//! importable. Figures are printed, never asserted.

use std::io::{BufWriter, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;

use crate::cli::Global;
use crate::output::report;

/// One `guanxi` (or DuckDB) process: its wall time and peak resident memory.
#[derive(Serialize)]
struct Step {
    step: String,
    seconds: f64,
    peak_rss_mib: Option<f64>,
}

/// One page through the running server: the first view and the best of the next views.
#[derive(Serialize)]
struct PageTiming {
    page: String,
    status: u16,
    first_ms: f64,
    warm_ms: f64,
}

#[derive(Serialize)]
struct Figures {
    customers: u64,
    orders: u64,
    file: PathBuf,
    file_mib: f64,
    generated_s: Option<f64>,
    steps: Vec<Step>,
    /// From starting `guanxi serve` to its `/healthz` answering 200 (warming done).
    serve_ready_ms: f64,
    pages: Vec<PageTiming>,
    duckdb_read_csv: Option<Step>,
    duckdb_rfm_subset: Option<Step>,
    duckdb_skipped: Option<String>,
    /// guanxi's import over DuckDB's read_csv of the same file.
    import_ratio: Option<f64>,
    /// guanxi's profile build (with storing) over DuckDB's RFM subset from its table.
    build_ratio: Option<f64>,
}

/// When the generated orders begin, and over how many days they run.
const FIRST_ORDER: &str = "2024-07-01T00:00:00+08:00";
const DAYS: i64 = 730;

/// The pages a user opens first, and the live counts the customers page makes.
const PAGES: [&str; 9] = [
    "/",
    "/reports?report=classes",
    "/reports?report=repurchase",
    "/reports?report=orders",
    "/customers",
    "/customers?relationship=loyal",
    "/api/segment/count?q=lifecycle%20%3D%20%27decline%27",
    "/api/segment/count?q=relationship%20%3D%20%27loyal%27%20and%20profit%20%3E%20500%20or%20rfm11%20%3D%20%27At%20Risk%27",
    "/api/segment/count?q=bought(within%20%3D%2090d)%20%3E%3D%202",
];

pub fn run(global: &Global, customers: u64, orders: u64, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join(format!("orders-{customers}-{orders}.csv"));
    let generated_s = if file.exists() {
        None
    } else {
        let t = Instant::now();
        generate(&file, customers, orders)?;
        Some(t.elapsed().as_secs_f64())
    };
    let db = dir.join("big.db");
    for f in ["big.db", "big.db-wal", "big.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let _ = std::fs::remove_dir_all(dir.join("big.lake"));
    let guanxi = std::env::current_exe().context("cannot find the guanxi binary")?;
    let g = |args: &[&str]| {
        let mut c = Command::new(&guanxi);
        c.arg("--db").arg(&db).arg("--json").args(args);
        c
    };
    let file_arg = file.to_string_lossy().to_string();
    let mut steps = vec![
        timed(
            "guanxi import orders",
            g(&["import", "orders", "--source", "big", &file_arg]),
        )?,
        timed(
            "guanxi import orders (again: nothing changes)",
            g(&["import", "orders", "--source", "big", &file_arg]),
        )?,
        timed("guanxi profile build (and storing it)", g(&["profile", "build"]))?,
    ];
    let token = bench_token(g)?;
    let (serve_ready_ms, pages) = pages(&guanxi, &db, &token)?;
    steps.push(timed("guanxi status", g(&["status"]))?);
    // The membership round `guanxi serve` runs every hour — every member's tier
    // evaluated, then what the last 35 days of orders earn — over the shop's last 35
    // days; then again, as the next hour finds it: everything already posted.
    let end = chrono::DateTime::parse_from_rfc3339(FIRST_ORDER)? + chrono::Duration::days(DAYS);
    let from = end - chrono::Duration::days(guanxi_app::points::MAINTAIN_DAYS);
    let (from, end) = (from.format("%Y-%m-%d").to_string(), end.format("%Y-%m-%d").to_string());
    let round = ["member", "earn", "--from", &from, "--to", &end];
    steps.push(timed("guanxi member earn (tiers, then 35 days)", g(&round))?);
    steps.push(timed("guanxi member earn (again: all posted)", g(&round))?);
    let (duck, duck_rfm, skipped) = match duckdb(&file) {
        Ok((load, rfm)) => (Some(load), Some(rfm), None),
        Err(e) => (None, None, Some(e)),
    };
    let f = Figures {
        customers,
        orders,
        file_mib: std::fs::metadata(&file)
            .map(|m| m.len() as f64 / 1048576.0)
            .unwrap_or_default(),
        file,
        generated_s,
        import_ratio: duck.as_ref().map(|d| steps[0].seconds / d.seconds),
        build_ratio: duck_rfm.as_ref().map(|d| steps[2].seconds / d.seconds),
        steps,
        serve_ready_ms,
        pages,
        duckdb_read_csv: duck,
        duckdb_rfm_subset: duck_rfm,
        duckdb_skipped: skipped,
    };
    report(global.json, &f, text)
}

/// Single-line orders from `customers` buyers in time order over two years, paid or not,
/// in guanxi's generic CSV. Deterministic.
fn generate(path: &Path, customers: u64, orders: u64) -> anyhow::Result<()> {
    const CATEGORIES: [&str; 6] = ["diapers", "wipes", "formula", "toys", "clothes", "bottles"];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let tmp = path.with_extension("csv.tmp");
    let mut w = BufWriter::new(std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?);
    writeln!(
        w,
        "order_id,customer_id,ordered_at,amount,paid_at,status,sku,title,quantity,category"
    )?;
    let start = chrono::DateTime::parse_from_rfc3339(FIRST_ORDER)?.timestamp();
    let span = DAYS * 86_400;
    for i in 0..orders {
        let at = start + (i as i64 * span) / orders.max(1) as i64;
        let placed = chrono::DateTime::from_timestamp(at, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%S");
        // Skewed buyers: a few buy often, most rarely, like a real shop.
        let c = (customers as f64 * rng.random::<f64>().powi(2)) as u64;
        let cat = rng.random_range(0..CATEGORIES.len());
        let cents: u64 = rng.random_range(990..49_900);
        let paid = rng.random_range(0..100) < 93;
        let (paid_at, status) = if paid {
            let p = chrono::DateTime::from_timestamp(at + rng.random_range(10..600), 0).unwrap_or_default();
            (p.format("%Y-%m-%d %H:%M:%S").to_string(), "paid")
        } else {
            (String::new(), "closed")
        };
        writeln!(
            w,
            "B{i:09},C{c:07},{placed},{}.{:02},{paid_at},{status},SKU-{cat}{},{} item,1,{}",
            cents / 100,
            cents % 100,
            rng.random_range(0..40),
            CATEGORIES[cat],
            CATEGORIES[cat]
        )?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Runs a process to its end: wall time, and its peak resident memory read from
/// `/proc` while it runs (Linux; the high-water mark only grows, so the last reading is
/// within a sampling interval of the peak).
fn timed(step: &str, mut command: Command) -> anyhow::Result<Step> {
    let t = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{step}: cannot start"))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = None;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        peak = super::bench::vm_hwm_mib(&status_file).or(peak);
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = t.elapsed().as_secs_f64();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        anyhow::bail!("{step} failed: {err}");
    }
    Ok(Step {
        step: step.to_string(),
        seconds,
        peak_rss_mib: peak,
    })
}

/// An API token of a bench user (an admin added for the purpose): every page is behind
/// sign-in, and a page timed without one would time the 401.
fn bench_token(g: impl Fn(&[&str]) -> Command) -> anyhow::Result<String> {
    let run = |args: &[&str], stdin: &str| -> anyhow::Result<serde_json::Value> {
        let mut child = g(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run guanxi")?;
        if let Some(mut i) = child.stdin.take() {
            i.write_all(stdin.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        anyhow::ensure!(
            out.status.success(),
            "guanxi {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    let name = format!("bench-{}", std::process::id());
    // The bench's own store, thrown away with its directory: a password of the moment.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let password = format!("bench-password-{nanos:x}");
    run(&["user", "add", &name, "--role", "admin"], &format!("{password}\n"))?;
    let token = run(
        &[
            "token",
            "create",
            "--user",
            &name,
            "--name",
            "bench",
            "--scope",
            "read-reports,segments,read-customer",
            "--days",
            "1",
        ],
        "",
    )?;
    token["secret"]
        .as_str()
        .map(str::to_string)
        .context("guanxi token create printed no secret")
}

/// Starts `guanxi serve` on a free port, waits for its `/healthz` to say it is ready (the
/// milliseconds from the start are the first figure), and times every page of [`PAGES`]
/// as the bench user: the first view and the best of three more. A page not answered 200
/// is an error, not a figure.
fn pages(guanxi: &Path, db: &Path, token: &str) -> anyhow::Result<(f64, Vec<PageTiming>)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Command::new(guanxi)
        .arg("--db")
        .arg(db)
        .args(["serve", "--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start guanxi serve")?;
    let result = (|| {
        let started = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "guanxi serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        while get(&addr, "/healthz", token)?.0 != 200 {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(600),
                "guanxi serve did not finish warming in 10 minutes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut out = Vec::new();
        for page in PAGES {
            let (status, first_ms) = get(&addr, page, token)?;
            anyhow::ensure!(
                status == 200,
                "{page} answered {status}, not 200: its time is not the page's"
            );
            let mut warm_ms = f64::INFINITY;
            for _ in 0..3 {
                warm_ms = warm_ms.min(get(&addr, page, token)?.1);
            }
            out.push(PageTiming {
                page: page.to_string(),
                status,
                first_ms,
                warm_ms,
            });
        }
        Ok((ready_ms, out))
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// One HTTP/1.1 GET to its last byte: the status and the milliseconds it took.
fn get(addr: &str, path: &str, token: &str) -> anyhow::Result<(u16, f64)> {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let head = String::from_utf8_lossy(&body[..body.len().min(32)]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, ms))
}

/// DuckDB on the same file, in two processes (each timed with its peak memory): its
/// `read_csv` into a table, then the profile build's RFM subset from that table — per
/// buyer recency, frequency and money of paid orders, quintile scores, the 8-class RFM
/// map, the value pyramid (top 1 / 4 / 15 / 80 % by money) — stored as a table.
fn duckdb(file: &Path) -> Result<(Step, Step), String> {
    let probe = Command::new("python3").args(["-c", "import duckdb"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => return Err("the duckdb Python package is not importable (pip install duckdb)".into()),
    }
    let db = file.with_extension("duckdb");
    let _ = std::fs::remove_file(&db);
    // The paths as Python string literals (Rust's debug quoting reads the same there).
    let head = format!(
        "import duckdb\ncon = duckdb.connect({:?})\ncon.execute('SET enable_progress_bar = false')\n",
        db.to_string_lossy()
    );
    let load = format!(
        "{head}con.execute('CREATE TABLE orders AS SELECT * FROM read_csv(?, header=true)', [{:?}])\n\
         print(con.execute('SELECT count(*) FROM orders').fetchone()[0])\n",
        file.to_string_lossy()
    );
    let rfm = format!(
        "{head}con.execute(\"\"\"{RFM_SUBSET}\"\"\")\nprint(con.execute('SELECT count(*) FROM profiles').fetchone()[0])\n"
    );
    let run = |step: &str, script: &str| {
        let mut c = Command::new("python3");
        c.args(["-c", script]);
        timed(step, c).map_err(|e| e.to_string())
    };
    let steps = run("duckdb read_csv", &load).and_then(|l| Ok((l, run("duckdb RFM subset (from its table)", &rfm)?)));
    let _ = std::fs::remove_file(&db);
    steps
}

/// The RFM subset of a profile build, in DuckDB's SQL.
const RFM_SUBSET: &str = "CREATE TABLE profiles AS
WITH paid AS (
  SELECT customer_id, CAST(paid_at AS TIMESTAMP) AS paid_time, amount FROM orders WHERE paid_at IS NOT NULL
), per AS (
  SELECT customer_id, date_diff('day', max(paid_time), (SELECT max(paid_time) FROM paid)) AS recency,
         count(*) AS frequency, sum(amount) AS monetary
  FROM paid GROUP BY customer_id
), scored AS (
  SELECT *, ntile(5) OVER (ORDER BY recency DESC) AS r, ntile(5) OVER (ORDER BY frequency) AS f,
         ntile(5) OVER (ORDER BY monetary) AS m, percent_rank() OVER (ORDER BY monetary DESC) AS share
  FROM per
)
SELECT *,
  CASE WHEN r >= 3 AND f >= 3 AND m >= 3 THEN 'important value' WHEN r < 3 AND f >= 3 AND m >= 3 THEN 'important retain'
       WHEN r >= 3 AND f < 3 AND m >= 3 THEN 'important develop' WHEN r < 3 AND f < 3 AND m >= 3 THEN 'important win back'
       WHEN r >= 3 AND f >= 3 THEN 'general value' WHEN r < 3 AND f >= 3 THEN 'general retain'
       WHEN r >= 3 THEN 'general develop' ELSE 'general win back' END AS rfm8,
  CASE WHEN share < 0.01 THEN 'vip' WHEN share < 0.05 THEN 'major' WHEN share < 0.20 THEN 'medium' ELSE 'small' END AS tier
FROM scored";

fn text(f: &Figures) -> String {
    let mut out = format!(
        "guanxi bench big: {} orders from {} customers, {} ({:.0} MiB){}\n",
        f.orders,
        f.customers,
        f.file.display(),
        f.file_mib,
        f.generated_s
            .map_or(" (reused)".into(), |s| format!(" (generated in {s:.1} s)"))
    );
    for s in f.steps.iter().chain(&f.duckdb_read_csv).chain(&f.duckdb_rfm_subset) {
        out += &format!(
            "  {:<48} {:>9.2} s   peak {}\n",
            s.step,
            s.seconds,
            s.peak_rss_mib.map_or("?".into(), |m| format!("{m:.0} MiB"))
        );
    }
    if let Some(r) = f.import_ratio {
        out += &format!("  import / duckdb read_csv {r:>6.1}×   (goal ≤ 2×)\n");
    }
    if let Some(r) = f.build_ratio {
        out += &format!("  profile build / duckdb RFM subset {r:>6.1}×   (goal ≤ 1×)\n");
    }
    if let Some(why) = &f.duckdb_skipped {
        out += &format!("  duckdb skipped: {why}\n");
    }
    out += &format!(
        "  guanxi serve ready (/healthz 200) {:>9.1} ms after its start\n",
        f.serve_ready_ms
    );
    out += "  pages through guanxi serve (first view, then the best of three; goal < 200 ms):\n";
    for p in &f.pages {
        out += &format!(
            "    {:>4} {:>9.1} ms {:>9.1} ms  {}\n",
            p.status, p.first_ms, p.warm_ms, p.page
        );
    }
    out
}
