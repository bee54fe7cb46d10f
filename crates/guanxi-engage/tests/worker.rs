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
