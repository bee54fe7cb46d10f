//! SQLite's first load: the orders' secondary indexes are dropped while an empty store
//! takes its first orders and are back after the commit, or after a rollback; a later
//! load keeps them.

use guanxi_store::Store as _;
use guanxi_store::testsuite::order;
use guanxi_store_sqlite::SqliteStore;

fn indexes(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut s = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL ORDER BY name")
        .expect("prepare");
    s.query_map([], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

#[tokio::test]
async fn the_first_loads_indexes_come_back_after_commit_and_rollback() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("guanxi.db");
    let store = SqliteStore::open(&db).await.expect("open");
    let before = indexes(&db);
    assert!(before.contains(&"orders_customer_paid".to_string()), "{before:?}");

    let mut tx = store.begin().await.expect("begin");
    tx.upsert_orders(&[order("A1", "c1", 1)]).await.expect("upsert");
    tx.rollback().await.expect("rollback");
    assert_eq!(indexes(&db), before);
    assert_eq!(store.counts().await.expect("counts").orders, 0);

    let mut tx = store.begin().await.expect("begin");
    tx.upsert_orders(&[order("A1", "c1", 2), order("A2", "c2", 1)])
        .await
        .expect("upsert");
    tx.commit().await.expect("commit");
    assert_eq!(indexes(&db), before);

    // The index holds the first load's rows: a lookup through it finds them.
    let conn = rusqlite::Connection::open(&db).expect("open");
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM orders INDEXED BY orders_customer_paid WHERE customer_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, 2);

    let mut tx = store.begin().await.expect("begin");
    tx.upsert_orders(&[order("A3", "c1", 1)]).await.expect("upsert");
    tx.commit().await.expect("commit");
    assert_eq!(indexes(&db), before);
    assert_eq!(store.counts().await.expect("counts").orders, 3);
}
