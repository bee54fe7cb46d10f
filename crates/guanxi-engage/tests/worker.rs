//! A running worker against a real store (SQLite) and the local gateway sink.

use std::sync::Arc;

use chrono::Utc;
use guanxi_domain::MessageStatus;
use guanxi_domain::ShopTz;
use guanxi_engage::sink::{self, Sink};
use guanxi_store::Store;
use guanxi_store_sqlite::SqliteStore;

/// `guanxi program disable` reaches a worker that is already running at its next batch:
/// what it claims after the switch is dropped, not sent (it used to wait for the engine's
/// next reading of the programs, up to 30 s later).
#[tokio::test]
async fn a_disabled_program_stops_a_running_worker_at_its_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("shop.db")).await.unwrap());
    let ids = sink::shoppers(store.as_ref(), "test", 3).await.unwrap();
    sink::save_program(store.as_ref(), true).await.unwrap();
    let now = Utc::now();
    assert_eq!(store.apply(&sink::plan(&ids, now)).await.unwrap(), 3);
    let gateway = Sink::start().await.unwrap();
    // One message a batch, so that the switch falls between two batches.
    let worker = gateway.sms_worker(store.clone(), ShopTz::default(), 1, 1).unwrap();

    let first = worker.batch(now).await.unwrap();
    assert_eq!((first.claimed, first.sent), (1, 1));
    sink::save_program(store.as_ref(), false).await.unwrap();
    let second = worker.batch(now).await.unwrap();
    assert_eq!((second.claimed, second.sent, second.dropped), (1, 0, 1));

    // Enabled again, the last message goes.
    sink::save_program(store.as_ref(), true).await.unwrap();
    let third = worker.batch(now).await.unwrap();
    assert_eq!((third.claimed, third.sent), (1, 1));
    assert_eq!(gateway.counts().2, 2, "two deliveries at the gateway");
    let counts = store.message_counts(Some("sink")).await.unwrap();
    let of = |status: MessageStatus| {
        counts
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.count)
            .sum::<u64>()
    };
    assert_eq!(
        (of(MessageStatus::Sent), of(MessageStatus::Dropped)),
        (2, 1),
        "{counts:?}"
    );
}

/// A provider that records each send as it starts (the provider has the message from
/// then on) and, once `hang_after` sends have started, answers none: the process is
/// killed while those sends are in flight.
struct Provider {
    deduplicates: bool,
    hang_after: usize,
    received: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl guanxi_engage::Transport for Provider {
    async fn send(&self, m: &guanxi_engage::Outgoing) -> Result<(), guanxi_engage::SendError> {
        let started = {
            let mut r = self.received.lock().unwrap();
            r.push(m.key.clone());
            r.len()
        };
        if started > self.hang_after {
            std::future::pending::<()>().await;
        }
        Ok(())
    }

    fn deduplicates(&self) -> bool {
        self.deduplicates
    }
}

/// A worker killed in the middle of a batch of 40 (4 sends in flight), then a fresh
/// worker once the claims' lease ends: how many messages the provider received twice.
async fn repeats_after_a_crash(deduplicates: bool) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("shop.db")).await.unwrap());
    let ids = sink::shoppers(store.as_ref(), "test", 40).await.unwrap();
    sink::save_program(store.as_ref(), true).await.unwrap();
    let now = Utc::now();
    store.apply(&sink::plan(&ids, now)).await.unwrap();
    let gateway = Sink::start().await.unwrap();
    let provider = Arc::new(Provider {
        deduplicates,
        hang_after: 20,
        received: Default::default(),
    });
    let mut worker = gateway.sms_worker(store.clone(), ShopTz::default(), 4, 40).unwrap();
    worker.lease = chrono::Duration::milliseconds(500);
    worker.channels = guanxi_engage::Channels::default();
    worker.channels.insert(guanxi_domain::Channel::Sms, provider.clone());
    // The kill: the batch's future is dropped with sends in flight.
    let killed = tokio::time::timeout(std::time::Duration::from_secs(2), worker.batch(now)).await;
    assert!(killed.is_err(), "the batch hangs on its in-flight sends");
    assert_eq!(provider.received.lock().unwrap().len(), 24, "20 answered, 4 in flight");

    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let after = Provider {
        deduplicates,
        hang_after: usize::MAX,
        received: Default::default(),
    };
    let after = Arc::new(after);
    worker.channels = guanxi_engage::Channels::default();
    worker.channels.insert(guanxi_domain::Channel::Sms, after.clone());
    let done = worker.batch(now).await.unwrap();
    let first: std::collections::HashSet<String> = provider.received.lock().unwrap().iter().cloned().collect();
    let second = after.received.lock().unwrap().clone();
    let all: std::collections::HashSet<&String> = first.iter().chain(&second).collect();
    assert_eq!(all.len(), 40, "every message reached the provider");
    assert_eq!(done.sent as usize, second.len());
    (second.iter().filter(|k| first.contains(*k)).count(), second.len())
}

/// Email (SMTP) cannot drop a repeat: each message is settled right after its send, so a
/// crash repeats at most the sends in flight (4). A gateway that honours idempotency keys
/// has the batch settled at its end: the crash repeats the whole batch's sends (24), which
/// the gateway drops.
#[tokio::test]
async fn a_crash_repeats_only_the_sends_in_flight_where_the_provider_cannot_drop_repeats() {
    let (repeats, resent) = repeats_after_a_crash(false).await;
    assert_eq!(
        (repeats, resent),
        (4, 20),
        "the 4 in flight again, and the 16 never sent"
    );
    let (repeats, resent) = repeats_after_a_crash(true).await;
    assert_eq!(
        (repeats, resent),
        (24, 40),
        "the whole batch again: the gateway drops 24"
    );
}

/// A provider whose client panics on the first send, then works.
#[derive(Default)]
struct PanicsOnce {
    calls: std::sync::atomic::AtomicUsize,
    sent: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl guanxi_engage::Transport for PanicsOnce {
    async fn send(&self, m: &guanxi_engage::Outgoing) -> Result<(), guanxi_engage::SendError> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("the provider's client panicked");
        }
        self.sent.lock().unwrap().push(m.key.clone());
        Ok(())
    }
}

/// A panic in the engine (here in a channel's client, mid-batch) is caught by the
/// supervisor: recorded in the engine's health (what `guanxi status` and the programs
/// page show), and the engine starts again and sends what was due.
#[tokio::test]
async fn the_supervisor_restarts_an_engine_that_panicked_and_records_why() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("shop.db")).await.unwrap());
    let ids = sink::shoppers(store.as_ref(), "test", 3).await.unwrap();
    sink::save_program(store.as_ref(), true).await.unwrap();
    store.apply(&sink::plan(&ids, Utc::now())).await.unwrap();
    let gateway = Sink::start().await.unwrap();
    let provider = Arc::new(PanicsOnce::default());
    let mut worker = gateway.sms_worker(store.clone(), ShopTz::default(), 1, 10).unwrap();
    // The panicked batch's claims end before the supervisor's pause (5 s) does.
    worker.lease = chrono::Duration::seconds(1);
    worker.channels = guanxi_engage::Channels::default();
    worker.channels.insert(guanxi_domain::Channel::Sms, provider.clone());
    let engine = guanxi_engage::Engine {
        worker,
        every: std::time::Duration::from_secs(60),
        columns: Default::default(),
        wake: Default::default(),
        coupons: Default::default(),
        tiers: Default::default(),
    };
    let supervised = tokio::spawn(guanxi_engage::supervise(engine));

    let started = std::time::Instant::now();
    while provider.sent.lock().unwrap().len() < 3 && started.elapsed() < std::time::Duration::from_secs(30) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    supervised.abort();
    assert_eq!(
        provider.sent.lock().unwrap().len(),
        3,
        "the restarted engine sent all three"
    );
    let health = guanxi_engage::Health::read(store.as_ref()).await.unwrap();
    assert_eq!(health.restarts, 1, "{health:?}");
    let stop = health.last_stop.expect("the stop is recorded");
    assert!(stop.error.contains("the provider's client panicked"), "{stop:?}");
}
