//! guanxi's embedded store: one SQLite file in WAL mode, zero set-up.
//!
//! The reading SQL is shared with PostgreSQL (`guanxi_store::sql_store!`, on sqlx's pool);
//! the writes are this crate's own, on rusqlite (`tx` and one module per noun it writes:
//! orders, customers, records, catalogue, builds). This crate also owns the connection
//! set-up and the schema (`migrations/`). WAL lets reports read while an import
//! writes; `synchronous = NORMAL` is durable across application crashes (not power loss of
//! the last transactions), the usual trade for an embedded database.

mod builds;
mod catalogue;
mod customers;
mod orders;
mod programs;
mod records;
mod tx;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use guanxi_store::{Backend, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

pub use tx::SqliteTx;

/// A store in one SQLite file.
pub struct SqliteStore {
    pool: Pool<Sqlite>,
    /// The file, for the write transaction's own connection.
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if missing) the store at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new().filename(path);
        SqliteStore::open_with(options, &path.display().to_string()).await
    }

    /// Opens a `sqlite:` URL (`sqlite://guanxi.db`, `sqlite::memory:`).
    pub async fn open_url(url: &str) -> Result<SqliteStore, StoreError> {
        // The write transaction opens a connection of its own, which an in-memory
        // database (one per connection) would not share.
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(StoreError::Open {
                location: url.to_string(),
                message: "an in-memory store cannot be shared by the writer's connection: give a file".into(),
            });
        }
        let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Open {
            location: url.to_string(),
            message: e.to_string(),
        })?;
        SqliteStore::open_with(options, url).await
    }

    async fn open_with(options: SqliteConnectOptions, location: &str) -> Result<SqliteStore, StoreError> {
        let path = options.get_filename().to_path_buf();
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // The pool reads (the bulk writes have a connection of their own, `tx`): each
            // of its connections keeps its own cache, and four of 64 MiB held a quarter of
            // a million-customer build's memory after its reads. 16 MiB each; the OS's page
            // cache holds the rest.
            .pragma("cache_size", "-16384");
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
        Ok(SqliteStore { pool, path })
    }

    /// The satisfaction figures as of `as_of` (the macro's shared query).
    async fn satisfaction_as_of(
        &self,
        as_of: chrono::DateTime<chrono::Utc>,
    ) -> Result<guanxi_store::Satisfaction, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        satisfaction_of(&mut conn, as_of).await
    }

    async fn begin_write(&self) -> Result<Box<dyn guanxi_store::StoreTx>, StoreError> {
        Ok(Box::new(SqliteTx::begin(&self.path)?))
    }
}

guanxi_store::sql_store!(SqliteStore, Sqlite, Backend::Sqlite);
