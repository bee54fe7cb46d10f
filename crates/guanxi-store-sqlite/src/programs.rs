//! Program entries (who entered a segment program, when), read on rusqlite: a large
//! segment program has hundreds of thousands, read again at every scheduler pass, and
//! sqlx's SQLite driver hands each row through its worker's channel.

use guanxi_store::{Entry, Result};

use crate::SqliteStore;
use crate::tx::{blocking, col, db_err, parse_time};

impl SqliteStore {
    /// A program's segment entries in customer id order (`Store::entries`).
    pub(crate) async fn read_entries(&self, program: &str) -> Result<Vec<Entry>> {
        blocking(|| {
            let conn = rusqlite::Connection::open(&self.path).map_err(db_err)?;
            conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(db_err)?;
            let mut select = conn
                .prepare(
                    "SELECT customer_id, started_at, occurrence FROM program_entries \
                     WHERE program = ?1 ORDER BY customer_id",
                )
                .map_err(db_err)?;
            let mut rows = select.query([program]).map_err(db_err)?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(db_err)? {
                let started_at: String = col(r, 1)?;
                out.push(Entry {
                    program: program.to_string(),
                    customer_id: col(r, 0)?,
                    started_at: parse_time(&started_at, "program_entries")?,
                    occurrence: col(r, 2)?,
                });
            }
            Ok(out)
        })
    }
}
