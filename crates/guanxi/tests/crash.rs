//! Exactly once, under crashes: a `guanxi program run` sending 10,000 messages is killed
//! with SIGKILL 20 times at random moments while it sends and restarted; afterwards every due message was
//! delivered exactly once, counted at the sink (an HTTP gateway that, like the real ones,
//! delivers an idempotency key once). On SQLite and on PostgreSQL; with PostgreSQL also
//! two `guanxi serve` processes sharing the database.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use guanxi_engage::sink::Sink;
use rand::{Rng as _, SeedableRng as _};
use serde_json::Value;

const MESSAGES: usize = 10_000;
/// Messages a `program run` claims at once in the kill test.
const BATCH: u64 = 50;

/// Where the store is: a SQLite file in the directory, or a PostgreSQL database.
#[derive(Clone)]
enum Db {
    Sqlite,
    Postgres(String),
}

impl Db {
    fn command(&self, dir: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_guanxi"));
        c.current_dir(dir).env_remove("GUANXI_LAKE");
        match self {
            Db::Sqlite => {
                c.env_remove("GUANXI_DATABASE_URL").args(["--db", "shop.db"]);
            }
            Db::Postgres(url) => {
                c.env("GUANXI_DATABASE_URL", url);
            }
        }
        c
    }

    fn ok(&self, dir: &Path, args: &[&str]) -> Value {
        let out = self.command(dir).arg("--json").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "guanxi {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn spawn(&self, dir: &Path, args: &[&str]) -> Child {
        self.command(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

/// A fresh PostgreSQL database on the test server. The tests that call it are ignored
/// (build.rs) where no server is named, unless CI requires them.
fn postgres(tag: &str) -> Db {
    let admin = std::env::var("GUANXI_TEST_POSTGRES_URL")
        .expect("GUANXI_REQUIRE_POSTGRES is set but GUANXI_TEST_POSTGRES_URL is not");
    let name = format!("guanxi_{tag}_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let s = Command::new("psql")
            .args([admin.as_str(), "-q", "-c", &sql])
            .status()
            .unwrap();
        assert!(s.success(), "psql {sql}");
    }
    let slash = admin.rfind('/').unwrap();
    Db::Postgres(format!("{}/{name}", &admin[..slash]))
}

/// A shop of 10,000 shoppers in a new directory, its SMS gateway a fresh sink (alive as
/// long as the runtime).
struct Shop {
    sink: Sink,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn new_shop(db: &Db, concurrency: u16) -> Shop {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sink = rt.block_on(Sink::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path(), db, &sink, concurrency);
    Shop { sink, dir, _rt: rt }
}

/// 10,000 shoppers, each with one order paid ten minutes ago, and a program that tells
/// each (by SMS, transactional) right away. `concurrency`: sends in flight per worker.
fn shop(dir: &Path, db: &Db, sink: &Sink, concurrency: u16) {
    std::fs::write(
        dir.join("guanxi.toml"),
        format!(
            "[contact]\nquiet_hours = \"00:00-00:00\"\n\n[channels]\nconcurrency = {concurrency}\n\n[channels.sms]\nurl = \"{}/sms\"\n",
            sink.url
        ),
    )
    .unwrap();
    let paid = (Utc::now() - ChronoDuration::minutes(10)).to_rfc3339();
    let mut customers = String::from("customer_id,name,mobile,consent_sms,consent_at\n");
    let mut orders = String::from("order_id,customer_id,ordered_at,amount,paid_at,status,title,quantity\n");
    for i in 0..MESSAGES {
        customers += &format!("S{i:05},顾客{i},139{i:08},granted,2026-01-01\n");
        orders += &format!("P{i:05},S{i:05},{paid},19.90,{paid},paid,湿巾,1\n");
    }
    std::fs::write(dir.join("customers.csv"), customers).unwrap();
    std::fs::write(dir.join("orders.csv"), orders).unwrap();
    db.ok(dir, &["import", "customers", "customers.csv", "--source", "crash"]);
    db.ok(
        dir,
        &[
            "import",
            "orders",
            "--format",
            "generic",
            "orders.csv",
            "--source",
            "crash",
        ],
    );
    std::fs::write(
        dir.join("notify.toml"),
        "name = \"notify\"\ntitle = \"Paid\"\npriority = \"transactional\"\ntrigger = { order = \"paid\" }\n\n\
         [[steps]]\nname = \"paid\"\nafter = \"0m\"\naction = { send = \"sms\", template = \"care-signed\" }\n",
    )
    .unwrap();
    let since = (Utc::now() - ChronoDuration::hours(1)).to_rfc3339();
    db.ok(dir, &["program", "enable", "notify.toml", "--since", &since]);
}

/// Every message delivered exactly once, as far as guanxi can get it wrong: the sink
/// delivers a key once by construction (like a gateway honouring `Idempotency-Key`), so
/// what is checked is guanxi's side — one key per shopper's touch (a touch given two keys
/// would be delivered twice, to one number), every one delivered, the ledger all sent.
/// Returns the repeated requests (sends of a key already delivered) for the caller to
/// bound.
fn assert_exactly_once(dir: &Path, db: &Db, sink: &Sink) -> u64 {
    let deliveries = sink.deliveries();
    assert_eq!(deliveries.len(), MESSAGES, "every due message delivered");
    let to: HashSet<String> = deliveries
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(&d.body).unwrap()["to"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(to.len(), MESSAGES, "one message per shopper");
    let stats = db.ok(dir, &["program", "stats", "notify"]);
    assert_eq!(stats[0]["sent"], MESSAGES as u64, "{stats}");
    assert_eq!(
        (stats[0]["queued"].as_u64(), stats[0]["failed"].as_u64()),
        (Some(0), Some(0)),
        "{stats}"
    );
    sink.counts().1
}

fn kill_and_restart(db: Db) {
    // Few sends in flight and small batches, so that 10,000 messages take a few seconds
    // of sending and the kills land while messages are between claim, send and settle.
    let shop = new_shop(&db, 4);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261123);
    let batch = BATCH.to_string();
    let run = ["program", "run", "--lease-secs", "2", "--batch", batch.as_str()];
    let mut interrupted = 0;
    for kill in 0..20u64 {
        // Kill once the run has made progress (so that, on a fast machine or a slow one,
        // the kill lands while messages are being sent), at a random moment after that
        // point, so that kills fall between claim, send and settle alike.
        let target = (kill + 1) * MESSAGES as u64 / 22;
        let mut child = db.spawn(dir, &run);
        let start = Instant::now();
        while sink.counts().2 < target
            && child.try_wait().unwrap().is_none()
            && start.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let before = sink.counts().2;
    assert!(
        interrupted >= 18 && before < MESSAGES as u64,
        "the kills must land while sending: {interrupted} of 20 interrupted a run, {before} delivered"
    );
    // The killed processes' claims end with their leases; then one run finishes the rest.
    std::thread::sleep(Duration::from_millis(2500));
    let out = db.command(dir).args(run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let repeats = assert_exactly_once(dir, &db, sink);
    // The gateway drops repeats, so the batch is settled at its end: a kill repeats at
    // most one batch's sends (claimed, maybe sent, not yet settled). More would mean a
    // message re-sent that was settled, or claimed twice.
    assert!(
        repeats <= interrupted * BATCH,
        "{repeats} repeated sends after {interrupted} kills of batches of {BATCH}"
    );
    let backend = match db {
        Db::Sqlite => "SQLite",
        Db::Postgres(_) => "PostgreSQL",
    };
    eprintln!(
        "{backend}: 20 kills ({interrupted} while running, {before} delivered before the last run): {MESSAGES} delivered once each; \
         {repeats} repeated requests absorbed by the idempotency key; {} requests in all",
        sink.counts().0
    );
}

#[test]
fn sqlite_sigkilled_twenty_times_delivers_each_message_once() {
    kill_and_restart(Db::Sqlite);
}

#[test]
#[cfg_attr(no_postgres, ignore = "no PostgreSQL: set GUANXI_TEST_POSTGRES_URL")]
fn postgres_sigkilled_twenty_times_delivers_each_message_once() {
    kill_and_restart(postgres("crash"));
}

#[test]
#[cfg_attr(no_postgres, ignore = "no PostgreSQL: set GUANXI_TEST_POSTGRES_URL")]
fn postgres_two_servers_share_the_outbox_and_deliver_each_message_once() {
    let db = postgres("pair");
    let shop = new_shop(&db, 64);
    let (dir, sink) = (shop.dir.path(), &shop.sink);
    let mut servers: Vec<Child> = (0..2)
        .map(|_| db.spawn(dir, &["serve", "--addr", &format!("127.0.0.1:{}", common::free_port())]))
        .collect();
    let start = Instant::now();
    while sink.counts().2 < MESSAGES as u64 && start.elapsed() < Duration::from_secs(240) {
        std::thread::sleep(Duration::from_millis(200));
    }
    // A little longer: a double send would show as a repeat now.
    std::thread::sleep(Duration::from_secs(2));
    for s in &mut servers {
        s.kill().unwrap();
        s.wait().unwrap();
    }
    let repeats = assert_exactly_once(dir, &db, sink);
    assert_eq!(repeats, 0, "two live workers never take the same message (SKIP LOCKED)");
}
