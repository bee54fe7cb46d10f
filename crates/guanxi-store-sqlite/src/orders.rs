//! Orders and their lines, written by the import's transaction.

use std::sync::LazyLock;

use guanxi_domain as dom;
use guanxi_store::{OrdersUpserted, Outcome, Result, StoredOrder, sql as q};
use rusqlite::types::ToSql;
use rusqlite::{params, params_from_iter};

use crate::tx::{SqliteTx, customer_id, db_err, insert_sql, opt_time, plan, time, update_sql};

/// A new order, revision 1 (the last value).
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = q::ORDER_COLUMNS.iter().copied().chain(["revision"]).collect();
    insert_sql("orders", &columns)
});

/// A changed order, its revision the next.
static UPDATE: LazyLock<String> =
    LazyLock::new(|| update_sql("orders", q::ORDER_COLUMNS, ", revision = revision + 1", "revision"));

static INSERT_LINE: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = q::LINE_COLUMNS.split(", ").collect();
    insert_sql("order_lines", &columns)
});

/// Inserts new orders, replaces changed ones (their lines too), leaves unchanged ones.
pub(crate) fn upsert(tx: &mut SqliteTx, orders: &[dom::Order]) -> Result<OrdersUpserted> {
    let (conn, ids) = tx.parts()?;
    let planned = plan(
        conn,
        "orders",
        orders,
        |o| (o.key.source.as_str(), o.key.external_id.as_str()),
        dom::Order::fingerprint,
    )?;
    let mut result = OrdersUpserted {
        outcomes: planned.iter().map(|(o, ..)| *o).collect(),
        ..Default::default()
    };
    let mut insert = conn.prepare_cached(&INSERT).map_err(db_err)?;
    let mut update = conn.prepare_cached(&UPDATE).map_err(db_err)?;
    let mut delete_lines = conn
        .prepare_cached("DELETE FROM order_lines WHERE order_id = ?1")
        .map_err(db_err)?;
    let mut insert_line = conn.prepare_cached(&INSERT_LINE).map_err(db_err)?;
    for (outcome, fingerprint, stored, o) in planned {
        if outcome == Outcome::Unchanged {
            continue;
        }
        let buyer = match &o.customer {
            Some(k) => Some(customer_id(conn, ids, k, &mut result.customers_inserted)?),
            None => None,
        };
        let t = &o.times;
        let times = [
            Some(time(o.created_at)),
            opt_time(t.paid_at),
            opt_time(t.shipped_at),
            opt_time(t.arrived_at),
            opt_time(t.signed_at),
            opt_time(t.completed_at),
            opt_time(t.closed_at),
            opt_time(t.refunded_at),
        ];
        let [goods, paid, discount, refund] = [o.goods().0, o.paid().0, o.discount().0, o.refund().0];
        let values: [&dyn ToSql; 23] = [
            &o.key.source.as_str(),
            &o.key.external_id,
            &buyer,
            &o.status.as_str(),
            &times[0],
            &times[1],
            &times[2],
            &times[3],
            &times[4],
            &times[5],
            &times[6],
            &times[7],
            &o.shipping_fee.0,
            &goods,
            &paid,
            &discount,
            &refund,
            &o.currency,
            &o.coupon,
            &o.campaign,
            &o.province,
            &o.city,
            &fingerprint,
        ];
        let (id, revision) = if let Some(id) = stored {
            let revision: i64 = update
                .query_row(params_from_iter(values.iter().chain([&id as &dyn ToSql].iter())), |r| {
                    r.get(0)
                })
                .map_err(db_err)?;
            delete_lines.execute([id]).map_err(db_err)?;
            (id, revision)
        } else {
            let revision = 1_i64;
            insert
                .execute(params_from_iter(values.iter().chain([&revision as &dyn ToSql].iter())))
                .map_err(db_err)?;
            (conn.last_insert_rowid(), revision)
        };
        for (n, l) in (1_i64..).zip(&o.lines) {
            insert_line
                .execute(params![
                    id,
                    n,
                    l.sku,
                    l.title,
                    l.category,
                    i64::from(l.quantity),
                    l.amount.0,
                    l.discount.0,
                    l.cost.map(|c| c.0),
                    l.refund.0,
                ])
                .map_err(db_err)?;
        }
        result.written.push(StoredOrder {
            id,
            customer_id: buyer,
            revision,
            order: o.clone(),
        });
    }
    Ok(result)
}
