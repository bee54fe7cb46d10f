//! The product catalogue and its keyword rules, written by the import's transaction.

use guanxi_domain as dom;
use guanxi_domain::catalogue::{KeywordRule, Product};
use guanxi_store::{Outcome, Result, Upserted};
use rusqlite::{OptionalExtension as _, params};

use crate::tx::{SqliteTx, db_err};

/// Inserts new products and replaces changed ones, by SKU.
pub(crate) fn upsert_products(tx: &mut SqliteTx, products: &[Product]) -> Result<Upserted> {
    let (conn, _) = tx.parts()?;
    let mut read = conn
        .prepare_cached("SELECT sku, title, category, unit_cost_cents FROM products WHERE sku = ?1")
        .map_err(db_err)?;
    let mut write = conn
        .prepare_cached(
            "INSERT INTO products (sku, title, category, unit_cost_cents) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (sku) DO UPDATE SET title = excluded.title, category = excluded.category, \
             unit_cost_cents = excluded.unit_cost_cents",
        )
        .map_err(db_err)?;
    let mut outcomes = Vec::with_capacity(products.len());
    for p in products {
        let old = read
            .query_row([&p.sku], |r| {
                Ok(Product {
                    sku: r.get(0)?,
                    title: r.get(1)?,
                    category: r.get(2)?,
                    unit_cost: r.get::<_, Option<i64>>(3)?.map(dom::Cents),
                })
            })
            .optional()
            .map_err(db_err)?;
        outcomes.push(match &old {
            None => Outcome::Inserted,
            Some(old) if old == p => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        });
        if old.as_ref() != Some(p) {
            write
                .execute(params![p.sku, p.title, p.category, p.unit_cost.map(|c| c.0)])
                .map_err(db_err)?;
        }
    }
    Ok(Upserted {
        outcomes,
        customers_inserted: 0,
    })
}

/// Replaces the keyword rules with `rules`, in their order.
pub(crate) fn replace_keywords(tx: &mut SqliteTx, rules: &[KeywordRule]) -> Result<()> {
    let (conn, _) = tx.parts()?;
    conn.execute("DELETE FROM category_keywords", []).map_err(db_err)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO category_keywords (position, keyword, category) VALUES (?1, ?2, ?3)")
        .map_err(db_err)?;
    for (position, r) in (0_i64..).zip(rules) {
        insert
            .execute(params![position, r.keyword, r.category])
            .map_err(db_err)?;
    }
    Ok(())
}
