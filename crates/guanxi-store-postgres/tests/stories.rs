//! The shared store stories on a real PostgreSQL server, each in a fresh database.
//!
//! `GUANXI_TEST_POSTGRES_URL` names a server and a database to connect to for creating
//! the test databases (e.g. `postgres://guanxi@127.0.0.1:5433/postgres`); `.ci/run` starts
//! one. Without it the stories are ignored (see build.rs), unless `GUANXI_REQUIRE_POSTGRES=1`
//! (set by CI), which turns the absence into a failure so that CI cannot pass untested.

use std::sync::atomic::{AtomicU32, Ordering};

use guanxi_store_postgres::PgStore;
use sqlx::Connection;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh database. The stories are ignored (build.rs) where no server is named, unless
/// CI requires them.
async fn fresh() -> (PgStore, ()) {
    let admin = std::env::var("GUANXI_TEST_POSTGRES_URL")
        .expect("GUANXI_REQUIRE_POSTGRES is set but GUANXI_TEST_POSTGRES_URL is not");
    let name = format!(
        "guanxi_story_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = match admin.rfind('/') {
        Some(slash) => format!("{}/{name}", &admin[..slash]),
        None => panic!("GUANXI_TEST_POSTGRES_URL has no database part: {admin}"),
    };
    (PgStore::open(&url).await.expect("open"), ())
}

guanxi_store::store_stories!(fresh(), #[cfg_attr(no_postgres, ignore = "no PostgreSQL: set GUANXI_TEST_POSTGRES_URL")]);

/// Two instances applying events to one order: the second transaction holding the
/// order's key waits until the first ends, a different key does not.
#[tokio::test]
#[cfg_attr(no_postgres, ignore = "no PostgreSQL: set GUANXI_TEST_POSTGRES_URL")]
async fn a_held_key_waits_for_the_transaction_holding_it() {
    use guanxi_store::Store as _;
    let (store, _) = fresh().await;
    let mut first = store.begin().await.unwrap();
    first.hold("shopify:#1").await.unwrap();
    let mut other = store.begin().await.unwrap();
    other.hold("shopify:#2").await.unwrap();
    other.commit().await.unwrap();
    let mut second = store.begin().await.unwrap();
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), second.hold("shopify:#1")).await;
    assert!(waited.is_err(), "the second transaction waits for the key");
    drop(second);
    first.commit().await.unwrap();
    let mut third = store.begin().await.unwrap();
    third.hold("shopify:#1").await.unwrap();
    third.commit().await.unwrap();
}
