//! The shared store stories on SQLite, each in a fresh database file.

use guanxi_store_sqlite::SqliteStore;

async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("guanxi.db")).await.expect("open");
    (store, dir)
}

guanxi_store::store_stories!(fresh());
