//! guanxi's store for many instances: PostgreSQL.
//!
//! The reading SQL is shared with SQLite (`guanxi_store::sql_store!`), the write
//! transaction's is this backend's own (`guanxi_store::sql_store_tx!`); this crate owns the
//! connection set-up and the schema (`migrations/`). Several guanxi processes may share
//! one database: every import is one transaction, and unique keys (source, external_id)
//! make concurrent upserts of the same record safe.

use std::str::FromStr;

use guanxi_store::{Backend, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres};

/// A store in a PostgreSQL database.
pub struct PgStore {
    pool: Pool<Postgres>,
}

/// A write transaction on a [`PgStore`].
pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
}

impl PgStore {
    /// Connects to `postgres://…` and brings the schema up to date.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let open_err = |e: sqlx::Error| StoreError::Open {
            location: redact(url),
            message: e.to_string(),
        };
        let options = PgConnectOptions::from_str(url).map_err(open_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(PgStore { pool })
    }

    /// A write transaction: the shared sqlx write path ([`guanxi_store::sql_store_tx!`]).
    async fn begin_write(&self) -> Result<Box<dyn guanxi_store::StoreTx>, StoreError> {
        let tx = self
            .pool
            .begin()
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(Box::new(PgTx { tx }))
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

guanxi_store::sql_store!(PgStore, Postgres, Backend::Postgres);
guanxi_store::sql_store_tx!(PgStore, PgTx, Postgres);

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
