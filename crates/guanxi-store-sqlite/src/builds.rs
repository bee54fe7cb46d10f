//! Profile builds, written on a rusqlite connection of their own like the imports (see
//! `tx`): a build replaces every profile, so the profiles' secondary indexes are dropped
//! and built sorted at commit, and each row is one reused prepared insert.

use std::sync::LazyLock;

use guanxi_store::{
    BuildRecord, BuildRows, COLUMNS_SQL, ClassChange, ColumnRow, FigureSums, PreviousClasses, ProfileColumns,
    ProfileRow, Result, Satisfaction, StoreError, sql as q,
};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension as _, params, params_from_iter};

use crate::SqliteStore;
use crate::tx::{blocking, col, db_err, drop_indexes, insert_sql, open_writer, opt_time, time};

static INSERT_PROFILE: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = q::PROFILE_COLUMNS.split(", ").map(str::trim).collect();
    insert_sql("profiles", &columns)
});

impl SqliteStore {
    /// Stores a build as the current one, with its class changes and figures.
    pub(crate) async fn write_build(&self, build: &BuildRecord, rows: &mut dyn BuildRows) -> Result<BuildRecord> {
        // The figures' satisfaction, read before the write as the build's profiles were:
        // both describe the shop as of the build.
        let satisfaction = self.satisfaction_as_of(build.as_of).await?;
        blocking(|| write(&self.path, build, rows, satisfaction))
    }

    /// The current build's profile columns, read on a rusqlite connection in one read
    /// transaction (the build and its profiles alike).
    pub(crate) async fn read_profile_columns(&self) -> Result<Option<ProfileColumns>> {
        blocking(|| read_columns(&self.path))
    }
}

/// The span of profiled customer ids from which the columns are read in two parts, one
/// per thread (ids are dense: the span stands for the count without counting the rows).
const SPLIT_FROM: i64 = 100_000;

fn read_columns(path: &std::path::Path) -> Result<Option<ProfileColumns>> {
    let conn = reader(path)?;
    let Some(build) = latest_build_id(&conn)? else {
        return Ok(None);
    };
    // Both ends of the customer id (the rowid) in two lookups — one subquery each: SQLite
    // answers a lone min() or max() from the key, both in one SELECT by a scan, as a
    // count does — so that no row is read twice before the two readers begin.
    let (first, last): (i64, i64) = conn
        .query_row(
            "SELECT coalesce((SELECT min(customer_id) FROM profiles), 0), \
             coalesce((SELECT max(customer_id) FROM profiles), 0)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_err)?;
    let middle = first + (last - first) / 2;
    if last - first < SPLIT_FROM {
        return Ok(Some(read_part(&conn, build, i64::MIN, i64::MAX)?));
    }
    // A million rows take about a second on one core, the first view of the customers
    // page waiting for them right after the server starts: the upper half is read on a
    // connection of its own beside this one.
    let upper = {
        let path = path.to_path_buf();
        std::thread::spawn(move || -> Result<(Option<i64>, ProfileColumns)> {
            let conn = reader(&path)?;
            let seen = latest_build_id(&conn)?;
            Ok((seen, read_part(&conn, build, middle, i64::MAX)?))
        })
    };
    let mut columns = read_part(&conn, build, i64::MIN, middle)?;
    let upper = upper
        .join()
        .map_err(|_| StoreError::Database("the profile columns' reader panicked".into()))??;
    match upper {
        (Some(seen), part) if seen == build => columns.append(part),
        // A build stored between the two reads began: this transaction's snapshot reads
        // the rest of the one it saw.
        _ => columns.append(read_part(&conn, build, middle, i64::MAX)?),
    }
    Ok(Some(columns))
}

/// A read connection in a read transaction (its snapshot lasts as long as the connection).
fn reader(path: &std::path::Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(db_err)?;
    conn.execute_batch("BEGIN").map_err(db_err)?;
    Ok(conn)
}

fn latest_build_id(conn: &Connection) -> Result<Option<i64>> {
    conn.query_row("SELECT id FROM profile_builds ORDER BY id DESC LIMIT 1", [], |r| {
        r.get(0)
    })
    .optional()
    .map_err(db_err)
}

/// The columns of the profiles with `after < customer_id <= upto`, in id order.
fn read_part(conn: &Connection, build: i64, after: i64, upto: i64) -> Result<ProfileColumns> {
    let mut columns = ProfileColumns::new(build);
    let mut select = conn
        .prepare(&format!(
            "SELECT {} FROM profiles p WHERE p.customer_id > ?1 AND p.customer_id <= ?2 ORDER BY p.customer_id",
            *COLUMNS_SQL
        ))
        .map_err(db_err)?;
    let mut rows = select.query([after, upto]).map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        let row = ColumnRow::read(
            |i| col(r, i),
            |i| {
                r.get_ref(i)
                    .map_err(db_err)?
                    .as_str_or_null()
                    .map_err(|e| db_err(e.into()))
            },
            |i| col(r, i),
        )?;
        columns.push_row(&row);
    }
    Ok(columns)
}

fn write(
    path: &std::path::Path,
    build: &BuildRecord,
    rows: &mut dyn BuildRows,
    satisfaction: Satisfaction,
) -> Result<BuildRecord> {
    let conn = open_writer(path).map_err(db_err)?;
    let previous: i64 = conn
        .query_row("SELECT count(*) FROM profile_builds", [], |r| r.get(0))
        .map_err(db_err)?;
    // The first build has nothing to compare with and records no change.
    let mut old = if previous > 0 {
        Some(current_classes(&conn)?)
    } else {
        None
    };
    conn.execute(
        "INSERT INTO profile_builds (as_of, built_at, customers, transitions, summary) VALUES (?1, ?2, 0, 0, ?3)",
        params![time(build.as_of), time(build.built_at), build.summary],
    )
    .map_err(db_err)?;
    let id = conn.last_insert_rowid();
    let indexes = drop_indexes(&conn, "profiles").map_err(db_err)?;
    conn.execute("DELETE FROM profiles", []).map_err(db_err)?;
    let (mut customers, mut transitions) = (0_i64, 0_i64);
    let mut sums = FigureSums::default();
    let mut changes: Vec<ClassChange> = Vec::new();
    {
        let mut insert = conn.prepare_cached(&INSERT_PROFILE).map_err(db_err)?;
        let mut record = conn
            .prepare_cached(
                "INSERT OR FAIL INTO class_transitions (build_id, customer_id, kind, from_class, to_class, as_of) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db_err)?;
        let as_of = time(build.as_of);
        let mut flush = |changes: &mut Vec<ClassChange>| -> Result<()> {
            for c in changes.drain(..) {
                record
                    .execute(params![id, c.customer_id, c.kind, c.from, c.to, as_of])
                    .map_err(db_err)?;
                transitions += 1;
            }
            Ok(())
        };
        while let Some(p) = rows.next_row() {
            sums.add(&p);
            if let Some(old) = old.as_mut() {
                old.changes(&p, &mut changes);
                flush(&mut changes)?;
            }
            insert_profile(&mut insert, id, &p).map_err(db_err)?;
            customers += 1;
        }
        if let Some(old) = old.as_mut() {
            old.gone(&mut changes);
            flush(&mut changes)?;
        }
    }
    // Rows that could not all be made leave the transaction uncommitted (rolled back as
    // the connection closes).
    let summary = rows
        .finish()
        .map_err(StoreError::Refused)?
        .unwrap_or_else(|| build.summary.clone());
    for sql in &indexes {
        conn.execute_batch(sql).map_err(db_err)?;
    }
    conn.execute(
        "UPDATE profile_builds SET customers = ?1, transitions = ?2, figures = ?3, summary = ?4 WHERE id = ?5",
        params![customers, transitions, sums.finish(satisfaction).to_json(), summary, id],
    )
    .map_err(db_err)?;
    conn.execute_batch("COMMIT").map_err(db_err)?;
    Ok(BuildRecord {
        id,
        customers,
        transitions,
        summary,
        ..build.clone()
    })
}

fn insert_profile(
    insert: &mut rusqlite::CachedStatement<'_>,
    build_id: i64,
    p: &ProfileRow,
) -> rusqlite::Result<usize> {
    let [first_paid_at, last_paid_at, next_purchase_at] = [
        opt_time(p.first_paid_at),
        opt_time(p.last_paid_at),
        opt_time(p.next_purchase_at),
    ];
    let [won_back, upgrade_potential] = [i64::from(p.won_back), i64::from(p.upgrade_potential)];
    let c = &p.classes;
    let values: [&dyn ToSql; 32] = [
        &p.customer_id,
        &build_id,
        &c[0],
        &c[1],
        &c[2],
        &c[3],
        &c[4],
        &c[5],
        &c[6],
        &c[7],
        &p.r,
        &p.f,
        &p.m,
        &p.recency_days,
        &p.paid_orders,
        &p.frequency,
        &p.cycle_days,
        &p.discount_share,
        &p.complaint_count,
        &p.praise_count,
        &p.paid_amount_cents,
        &p.profit_cents,
        &p.refunds_cents,
        &p.monetary_cents,
        &won_back,
        &upgrade_potential,
        &first_paid_at,
        &last_paid_at,
        &p.p_alive,
        &p.expected_purchases,
        &p.clv_cents,
        &next_purchase_at,
    ];
    insert.execute(params_from_iter(values))
}

/// The classes of the current build, for the next build's transitions.
fn current_classes(conn: &Connection) -> Result<PreviousClasses> {
    let mut out = PreviousClasses::default();
    let mut read = conn
        .prepare(&format!(
            "SELECT customer_id, {} FROM profiles",
            guanxi_store::class_columns()
        ))
        .map_err(db_err)?;
    let mut rows = read.query([]).map_err(db_err)?;
    while let Some(row) = rows.next().map_err(db_err)? {
        let mut classes: [Option<String>; 8] = Default::default();
        for (k, slot) in classes.iter_mut().enumerate() {
            *slot = row.get(k + 1).map_err(db_err)?;
        }
        out.insert(row.get(0).map_err(db_err)?, classes);
    }
    Ok(out)
}
