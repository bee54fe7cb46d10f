//! Service records and reviews, written by the import's transaction.

use std::sync::LazyLock;

use guanxi_domain as dom;
use guanxi_store::{Outcome, Result, Upserted, sql as q};
use rusqlite::types::ToSql;
use rusqlite::{Statement, params_from_iter};

use crate::tx::{SqliteTx, customer_id, db_err, insert_sql, opt_time, plan, time, update_sql};

/// The insert and the update of a record's table.
struct Sql {
    insert: LazyLock<String>,
    update: LazyLock<String>,
}

static SERVICE: Sql = Sql {
    insert: LazyLock::new(|| insert_sql("service_records", q::SERVICE_COLUMNS)),
    update: LazyLock::new(|| update_sql("service_records", q::SERVICE_COLUMNS, "", "")),
};

static REVIEW: Sql = Sql {
    insert: LazyLock::new(|| insert_sql("reviews", q::REVIEW_COLUMNS)),
    update: LazyLock::new(|| update_sql("reviews", q::REVIEW_COLUMNS, "", "")),
};

/// A record of a customer kept by (source, external id).
trait Record {
    const TABLE: &'static str;
    fn key(&self) -> (&str, &str);
    fn customer(&self) -> &dom::CustomerKey;
    fn fingerprint(&self) -> i64;
    /// Runs a prepared insert of this record's values, or an update (`id`: the values,
    /// then the stored record's id).
    fn write(
        &self,
        statement: &mut Statement<'_>,
        customer_id: i64,
        fingerprint: i64,
        id: Option<i64>,
    ) -> rusqlite::Result<usize>;
}

/// Inserts new records and replaces changed ones; their customers are created bare when
/// not yet known.
fn upsert<T: Record>(tx: &mut SqliteTx, records: &[T], sql: &Sql) -> Result<Upserted> {
    let (conn, ids) = tx.parts()?;
    let planned = plan(conn, T::TABLE, records, T::key, T::fingerprint)?;
    let mut result = Upserted {
        outcomes: planned.iter().map(|(o, ..)| *o).collect(),
        customers_inserted: 0,
    };
    let mut insert = conn.prepare_cached(&sql.insert).map_err(db_err)?;
    let mut update = conn.prepare_cached(&sql.update).map_err(db_err)?;
    for (outcome, fingerprint, stored, r) in planned {
        if outcome == Outcome::Unchanged {
            continue;
        }
        let cid = customer_id(conn, ids, r.customer(), &mut result.customers_inserted)?;
        // An update binds the stored row's id after the values.
        let statement = if stored.is_some() { &mut update } else { &mut insert };
        r.write(statement, cid, fingerprint, stored).map_err(db_err)?;
    }
    Ok(result)
}

impl Record for dom::ServiceRecord {
    const TABLE: &'static str = "service_records";

    fn key(&self) -> (&str, &str) {
        (self.source.as_str(), &self.external_id)
    }

    fn customer(&self) -> &dom::CustomerKey {
        &self.customer
    }

    fn fingerprint(&self) -> i64 {
        dom::ServiceRecord::fingerprint(self)
    }

    fn write(
        &self,
        statement: &mut Statement<'_>,
        cid: i64,
        fingerprint: i64,
        id: Option<i64>,
    ) -> rusqlite::Result<usize> {
        let (opened_at, closed_at) = (time(self.opened_at), opt_time(self.closed_at));
        let satisfaction = self.satisfaction.map(|x| i64::from(x.get()));
        let values: [&dyn ToSql; 12] = [
            &self.source.as_str(),
            &self.external_id,
            &cid,
            &self.order_external_id,
            &self.kind.as_str(),
            &self.status.as_str(),
            &opened_at,
            &closed_at,
            &satisfaction,
            &self.cost.0,
            &self.note,
            &fingerprint,
        ];
        statement.execute(params_from_iter(
            values.iter().chain(id.as_ref().map(|i| i as &dyn ToSql).iter()),
        ))
    }
}

impl Record for dom::Review {
    const TABLE: &'static str = "reviews";

    fn key(&self) -> (&str, &str) {
        (self.source.as_str(), &self.external_id)
    }

    fn customer(&self) -> &dom::CustomerKey {
        &self.customer
    }

    fn fingerprint(&self) -> i64 {
        dom::Review::fingerprint(self)
    }

    fn write(
        &self,
        statement: &mut Statement<'_>,
        cid: i64,
        fingerprint: i64,
        id: Option<i64>,
    ) -> rusqlite::Result<usize> {
        let rating = |r: Option<dom::Rating>| r.map(|x| i64::from(x.get()));
        let ratings = [
            rating(self.item_rating),
            rating(self.service_rating),
            rating(self.logistics_rating),
        ];
        let created_at = time(self.created_at);
        let values: [&dyn ToSql; 10] = [
            &self.source.as_str(),
            &self.external_id,
            &cid,
            &self.order_external_id,
            &ratings[0],
            &ratings[1],
            &ratings[2],
            &self.text,
            &created_at,
            &fingerprint,
        ];
        statement.execute(params_from_iter(
            values.iter().chain(id.as_ref().map(|i| i as &dyn ToSql).iter()),
        ))
    }
}

pub(crate) fn upsert_service_records(tx: &mut SqliteTx, records: &[dom::ServiceRecord]) -> Result<Upserted> {
    upsert(tx, records, &SERVICE)
}

pub(crate) fn upsert_reviews(tx: &mut SqliteTx, reviews: &[dom::Review]) -> Result<Upserted> {
    upsert(tx, reviews, &REVIEW)
}
