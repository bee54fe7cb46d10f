//! guanxi's embedded store: one SQLite file in WAL mode, zero set-up.
//!
//! The SQL is shared with PostgreSQL (`guanxi_store::sql_store!`); this crate owns the
//! connection set-up and the schema (`migrations/`). WAL lets reports read while an import
//! writes; `synchronous = NORMAL` is durable across application crashes (not power loss of
//! the last transactions), the usual trade for an embedded database.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use guanxi_store::{Backend, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

/// A store in one SQLite file.
pub struct SqliteStore {
    pool: Pool<Sqlite>,
}

/// A write transaction on a [`SqliteStore`].
pub struct SqliteTx {
    tx: sqlx::Transaction<'static, Sqlite>,
}

impl SqliteStore {
    /// Opens (creating if missing) the store at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new().filename(path);
        SqliteStore::open_with(options, &path.display().to_string()).await
    }

    /// Opens a `sqlite:` URL (`sqlite://guanxi.db`, `sqlite::memory:`).
    pub async fn open_url(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Open {
            location: url.to_string(),
            message: e.to_string(),
        })?;
        SqliteStore::open_with(options, url).await
    }

    async fn open_with(options: SqliteConnectOptions, location: &str) -> Result<SqliteStore, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // Bulk imports touch many pages; a larger cache (64 MiB) avoids re-reading them.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open {
                location: location.to_string(),
                message: e.to_string(),
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(SqliteStore { pool })
    }
}

guanxi_store::sql_store!(SqliteStore, SqliteTx, Sqlite, Backend::Sqlite);
