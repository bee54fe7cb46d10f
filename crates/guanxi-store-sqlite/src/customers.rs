//! Customers (with their consents and tags), written by the import's transaction.

use std::sync::LazyLock;

use guanxi_domain as dom;
use guanxi_store::{Outcome, Result, Upserted, sql as q};
use rusqlite::types::ToSql;
use rusqlite::{params, params_from_iter};

use crate::tx::{SqliteTx, db_err, insert_sql, opt_time, plan, time, update_sql};

static INSERT: LazyLock<String> = LazyLock::new(|| insert_sql("customers", q::CUSTOMER_COLUMNS));
static UPDATE: LazyLock<String> = LazyLock::new(|| update_sql("customers", q::CUSTOMER_COLUMNS, "", ""));

/// Inserts new customers and replaces changed ones, keeping every stored withdrawal of
/// consent the import does not bring a newer record for.
pub(crate) fn upsert(tx: &mut SqliteTx, customers: &[dom::Customer]) -> Result<Upserted> {
    let (conn, ids) = tx.parts()?;
    let planned = plan(
        conn,
        "customers",
        customers,
        |c| (c.key.source.as_str(), c.key.external_id.as_str()),
        dom::Customer::fingerprint,
    )?;
    let outcomes = planned.iter().map(|(o, ..)| *o).collect();
    let mut insert = conn.prepare_cached(&INSERT).map_err(db_err)?;
    let mut update = conn.prepare_cached(&UPDATE).map_err(db_err)?;
    // A withdrawal of consent (an unsubscribe, a TD reply) is evidence: an import of older
    // records must not undo it. Stored denials are put back unless the import brings a
    // newer record for that channel. Times are kept as stored text, so they go back as
    // they were.
    let mut denials = conn
        .prepare_cached(
            "SELECT channel, recorded_at, evidence FROM customer_consents \
             WHERE state = 'denied' AND customer_id = ?1",
        )
        .map_err(db_err)?;
    let mut delete_consents = conn
        .prepare_cached("DELETE FROM customer_consents WHERE customer_id = ?1")
        .map_err(db_err)?;
    let mut delete_tags = conn
        .prepare_cached("DELETE FROM customer_tags WHERE customer_id = ?1")
        .map_err(db_err)?;
    let mut insert_consent = conn
        .prepare_cached(
            "INSERT INTO customer_consents (customer_id, channel, state, recorded_at, evidence) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db_err)?;
    let mut restore_denial = conn
        .prepare_cached(
            "INSERT INTO customer_consents (customer_id, channel, state, recorded_at, evidence) \
             VALUES (?1, ?2, 'denied', ?3, ?4) \
             ON CONFLICT (customer_id, channel) DO UPDATE SET state = excluded.state, \
             recorded_at = excluded.recorded_at, evidence = excluded.evidence \
             WHERE customer_consents.recorded_at < excluded.recorded_at",
        )
        .map_err(db_err)?;
    let mut insert_tag = conn
        .prepare_cached("INSERT INTO customer_tags (customer_id, tag) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
        .map_err(db_err)?;
    for (outcome, fingerprint, stored, c) in planned {
        if outcome == Outcome::Unchanged {
            continue;
        }
        let mobile = c.mobile.as_ref();
        let email = c.email.as_ref();
        let mobile_raw = mobile.map(|m| &m.raw);
        let mobile_normalised = mobile.and_then(|m| m.normalised.as_ref()).map(|m| m.as_str());
        let email_raw = email.map(|m| &m.raw);
        let email_normalised = email.and_then(|m| m.normalised.as_ref()).map(|m| m.as_str());
        let [birthday, first_seen_at] = [
            c.birthday.map(|d| d.format("%F").to_string()),
            opt_time(c.first_seen_at),
        ];
        let [price_sensitivity, max_messages_per_week] = [
            c.price_sensitivity.map(i64::from),
            c.max_messages_per_week.map(i64::from),
        ];
        let values: [&dyn ToSql; 23] = [
            &c.key.source.as_str(),
            &c.key.external_id,
            &c.name,
            &c.gender.map(|g| g.as_str()),
            &birthday,
            &c.province,
            &c.city,
            &c.phone,
            &mobile_raw,
            &mobile_normalised,
            &email_raw,
            &email_normalised,
            &c.qq,
            &c.wechat,
            &c.credit_level,
            &c.source_channel,
            &first_seen_at,
            &c.preferred_style,
            &price_sensitivity,
            &c.preferred_brand,
            &c.preferred_channel.map(|g| g.as_str()),
            &max_messages_per_week,
            &fingerprint,
        ];
        let id = if let Some(id) = stored {
            update
                .execute(params_from_iter(values.iter().chain([&id as &dyn ToSql].iter())))
                .map_err(db_err)?;
            id
        } else {
            insert.execute(params_from_iter(values)).map_err(db_err)?;
            conn.last_insert_rowid()
        };
        ids.insert(c.key.clone(), id);
        let kept: Vec<(String, String, String)> = denials
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db_err)?;
        delete_consents.execute([id]).map_err(db_err)?;
        delete_tags.execute([id]).map_err(db_err)?;
        for x in &c.consents {
            insert_consent
                .execute(params![
                    id,
                    x.channel.as_str(),
                    x.state.as_str(),
                    time(x.recorded_at),
                    x.evidence
                ])
                .map_err(db_err)?;
        }
        for (channel, at, evidence) in kept {
            restore_denial
                .execute(params![id, channel, at, evidence])
                .map_err(db_err)?;
        }
        for t in &c.tags {
            insert_tag.execute(params![id, t]).map_err(db_err)?;
        }
    }
    Ok(Upserted {
        outcomes,
        customers_inserted: 0,
    })
}
