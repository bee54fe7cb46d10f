//! The write transaction: one rusqlite connection of its own, `BEGIN IMMEDIATE`, every
//! statement prepared once and reused row after row. Measured on 1M single-line orders,
//! sqlx's SQLite driver spent most of the import handing each multi-row statement's
//! binds and rows through its worker thread's channel; SQLite itself needs a fraction of
//! that for the same rows (see the README's figures).
//!
//! The reading side stays on the sqlx pool: WAL lets it read while this writes.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use guanxi_domain as dom;
use guanxi_store::{ImportRecord, OrdersUpserted, Outcome, Result, StoreError, StoreTx, Upserted, classify};
use rusqlite::{Connection, params};

/// A write transaction on a [`crate::SqliteStore`].
pub struct SqliteTx {
    /// `None` once committed or rolled back.
    conn: Option<Connection>,
    /// Customer ids met in this transaction: an import names the same buyers again and
    /// again, and each would otherwise be looked up (or created) once per batch.
    pub(crate) ids: HashMap<dom::CustomerKey, i64>,
    /// The secondary indexes of `orders` dropped for a first load, rebuilt at commit.
    deferred_indexes: Vec<String>,
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// A time as sqlx's SQLite driver writes it (RFC 3339, fractions only when non-zero), so
/// that both drivers' rows compare and read alike.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

pub(crate) fn opt_time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(time)
}

/// A time as [`time`] writes it, read back (`what` names the column in the error).
pub(crate) fn parse_time(text: &str, what: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{what}: a time {text:?}: {e}")))
}

/// Column `i` of a rusqlite row.
pub(crate) fn col<T: rusqlite::types::FromSql>(r: &rusqlite::Row<'_>, i: usize) -> Result<T> {
    r.get(i).map_err(db_err)
}

/// Runs SQLite's (blocking) work off the async scheduler where it can: on a
/// multi-threaded runtime the worker hands its other tasks on while this runs.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl SqliteTx {
    /// Opens the write connection on the store's file and begins (waiting up to 30 s for
    /// another writer).
    pub(crate) fn begin(path: &Path) -> Result<SqliteTx> {
        let (conn, deferred_indexes) = blocking(|| -> rusqlite::Result<(Connection, Vec<String>)> {
            let conn = open_writer(path)?;
            let empty: bool = conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM orders)", [], |r| r.get(0))?;
            // See `drop_indexes`: a first load builds the orders' index at commit.
            let deferred = if empty {
                drop_indexes(&conn, "orders")?
            } else {
                Vec::new()
            };
            Ok((conn, deferred))
        })
        .map_err(db_err)?;
        Ok(SqliteTx {
            conn: Some(conn),
            ids: HashMap::new(),
            deferred_indexes,
        })
    }

    /// The connection and the transaction's customer ids, borrowed apart.
    pub(crate) fn parts(&mut self) -> Result<(&Connection, &mut HashMap<dom::CustomerKey, i64>)> {
        match &self.conn {
            Some(c) => Ok((c, &mut self.ids)),
            None => Err(StoreError::Database("the transaction has ended".into())),
        }
    }

    /// Commits, after rebuilding the indexes a first load dropped.
    fn commit(mut self) -> Result<()> {
        let conn = self.conn.take();
        blocking(|| match conn {
            Some(c) => {
                for sql in &self.deferred_indexes {
                    c.execute_batch(sql).map_err(db_err)?;
                }
                c.execute_batch("COMMIT").map_err(db_err)
            }
            None => Ok(()),
        })
    }

    /// Rolls back (the dropped indexes come back with the rest).
    fn rollback(mut self) -> Result<()> {
        let conn = self.conn.take();
        blocking(|| match conn {
            Some(c) => c.execute_batch("ROLLBACK").map_err(db_err),
            None => Ok(()),
        })
    }
}

/// Opens a write connection on the store's file and begins (waiting up to 30 s for
/// another writer), foreign keys checked at commit.
pub(crate) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The pool's page cache (64 MiB): with the bulk loads' indexes built at commit, a
    // larger one bought no time and cost resident memory.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch("BEGIN IMMEDIATE")?;
    // Foreign keys checked at commit (the pragma lasts one transaction): see `insert_sql`.
    conn.pragma_update(None, "defer_foreign_keys", true)?;
    Ok(conn)
}

/// Drops the secondary indexes of `table` and returns the statements that rebuild them,
/// for a bulk load: a first load of orders (rows of a large export arrive in time order,
/// each with a buyer anywhere in the (customer, paid time) index) and every profile build
/// (which replaces all profiles). One sorted build costs less than a million inserts at
/// random places. Unique keys stay: batches look rows up by them. In the transaction, so
/// a rollback brings the indexes back.
pub(crate) fn drop_indexes(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let indexes: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX \"{name}\""))?;
    }
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}

/// The id of a customer by key, creating a bare customer the first time it is met.
pub(crate) fn customer_id(
    conn: &Connection,
    ids: &mut HashMap<dom::CustomerKey, i64>,
    key: &dom::CustomerKey,
    inserted: &mut u64,
) -> Result<i64> {
    if let Some(id) = ids.get(key) {
        return Ok(*id);
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO customers (source, external_id, content_hash) VALUES (?1, ?2, ?3) \
             ON CONFLICT (external_id, source) DO NOTHING",
        )
        .map_err(db_err)?;
    let fingerprint = dom::Customer::bare(key.clone()).fingerprint();
    let id = if insert
        .execute(params![key.source.as_str(), key.external_id, fingerprint])
        .map_err(db_err)?
        == 1
    {
        *inserted += 1;
        conn.last_insert_rowid()
    } else {
        conn.prepare_cached("SELECT id FROM customers WHERE external_id = ?1 AND source = ?2")
            .map_err(db_err)?
            .query_row(params![key.external_id, key.source.as_str()], |r| r.get(0))
            .map_err(db_err)?
    };
    ids.insert(key.clone(), id);
    Ok(id)
}

/// One record of a batch against the store: its outcome ([`classify`]'s), its
/// fingerprint, its stored id (an update's row), the record.
pub(crate) type Planned<'a, T> = (Outcome, i64, Option<i64>, &'a T);

/// Sorts a batch against what the store holds, one indexed probe per key (a prepared
/// statement reused: cheaper in SQLite than a long `IN` list).
pub(crate) fn plan<'a, T>(
    conn: &Connection,
    table: &str,
    records: &'a [T],
    key: impl Fn(&'a T) -> (&'a str, &'a str),
    fingerprint: impl Fn(&T) -> i64,
) -> Result<Vec<Planned<'a, T>>> {
    let mut probe = conn
        .prepare_cached(&format!(
            "SELECT id, content_hash FROM {table} WHERE external_id = ?1 AND source = ?2"
        ))
        .map_err(db_err)?;
    let mut stored = HashMap::new();
    for r in records {
        let (source, id) = key(r);
        let mut rows = probe.query(params![id, source]).map_err(db_err)?;
        if let Some(row) = rows.next().map_err(db_err)? {
            stored.insert((source, id), (row.get(0).map_err(db_err)?, row.get(1).map_err(db_err)?));
        }
    }
    Ok(classify(records, &key, fingerprint, &stored)
        .into_iter()
        .map(|(outcome, fp, r)| (outcome, fp, stored.get(&key(r)).map(|(id, _)| *id), r))
        .collect())
}

/// `INSERT OR FAIL INTO table (columns) VALUES (?1, …)` for one row. `OR FAIL`, with
/// foreign keys checked at commit, lets SQLite write a row without a statement journal:
/// a one-row statement has nothing of its own to undo when it fails, and journaling every
/// page an upsert touched (row after row) took more time than writing the rows.
pub(crate) fn insert_sql(table: &str, columns: &[&str]) -> String {
    let values: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT OR FAIL INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        values.join(", ")
    )
}

/// `UPDATE OR FAIL table SET column = ?1, … WHERE id = ?n+1` for one row: the same values
/// as [`insert_sql`]'s, then the row's id; `extra_set` adds assignments, `returning` the
/// columns given back (or none).
pub(crate) fn update_sql(table: &str, columns: &[&str], extra_set: &str, returning: &str) -> String {
    let set: Vec<String> = (1..).zip(columns).map(|(i, c)| format!("{c} = ?{i}")).collect();
    let returning = if returning.is_empty() {
        String::new()
    } else {
        format!(" RETURNING {returning}")
    };
    format!(
        "UPDATE OR FAIL {table} SET {}{extra_set} WHERE id = ?{}{returning}",
        set.join(", "),
        columns.len() + 1
    )
}

#[async_trait::async_trait]
impl StoreTx for SqliteTx {
    async fn upsert_orders(&mut self, orders: &[dom::Order]) -> Result<OrdersUpserted> {
        blocking(|| crate::orders::upsert(self, orders))
    }

    async fn upsert_customers(&mut self, customers: &[dom::Customer]) -> Result<Upserted> {
        blocking(|| crate::customers::upsert(self, customers))
    }

    async fn upsert_service_records(&mut self, records: &[dom::ServiceRecord]) -> Result<Upserted> {
        blocking(|| crate::records::upsert_service_records(self, records))
    }

    async fn upsert_reviews(&mut self, reviews: &[dom::Review]) -> Result<Upserted> {
        blocking(|| crate::records::upsert_reviews(self, reviews))
    }

    async fn upsert_products(&mut self, products: &[dom::catalogue::Product]) -> Result<Upserted> {
        blocking(|| crate::catalogue::upsert_products(self, products))
    }

    async fn replace_keywords(&mut self, rules: &[dom::catalogue::KeywordRule]) -> Result<()> {
        blocking(|| crate::catalogue::replace_keywords(self, rules))
    }

    async fn record_import(&mut self, r: &ImportRecord) -> Result<()> {
        blocking(|| {
            let (conn, _) = self.parts()?;
            conn.prepare_cached(
                "INSERT INTO imports (kind, format, files, started_at, finished_at, summary) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db_err)?
            .execute(params![
                r.kind,
                r.format,
                r.files.join("\n"),
                time(r.started_at),
                time(r.finished_at),
                r.summary
            ])
            .map_err(db_err)?;
            Ok(())
        })
    }

    async fn record_event(&mut self, e: &guanxi_store::ReceivedEvent) -> Result<bool> {
        blocking(|| {
            let (conn, _) = self.parts()?;
            let n = conn
                .prepare_cached(
                    "INSERT INTO received_events (source, event_id, topic, received_at, platform_order_id, order_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (source, event_id) DO NOTHING",
                )
                .map_err(db_err)?
                .execute(params![
                    e.source,
                    e.event_id,
                    e.topic,
                    time(e.received_at),
                    e.order.as_ref().map(|o| &o.0),
                    e.order.as_ref().map(|o| &o.1)
                ])
                .map_err(db_err)?;
            Ok(n == 1)
        })
    }

    async fn hold(&mut self, _key: &str) -> Result<()> {
        // `BEGIN IMMEDIATE`: this transaction is already the only writer.
        Ok(())
    }

    async fn erase_customer(&mut self, id: i64, anonymous_id: &str) -> Result<()> {
        blocking(|| {
            let (conn, ids) = self.parts()?;
            // The ids met in this transaction may name the customer by its old key.
            ids.retain(|_, v| *v != id);
            for statement in guanxi_store::ERASE_CUSTOMER {
                if statement.contains("{1}") {
                    let sql = statement.replace("{1}", "?1").replace("{2}", "?2");
                    conn.execute(&sql, params![anonymous_id, id]).map_err(db_err)?;
                } else {
                    conn.execute(&statement.replace("{2}", "?1"), params![id])
                        .map_err(db_err)?;
                }
            }
            Ok(())
        })
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        (*self).commit()
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        (*self).rollback()
    }
}
