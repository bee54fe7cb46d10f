//! The single-machine pass over the lake (the default build): the `parquet` and `arrow`
//! crates read the columns the facts need, file by file, and Rust does what the SQL of
//! the `cluster` engine does — the newest revision of each order, paid orders of known
//! buyers up to the as-of moment, each order's lines summed, sorted by person. No query
//! engine to compile: the default binary builds in minutes, not the better part of an
//! hour (see the README).

use std::collections::HashMap;
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, DictionaryArray, RecordBatch, StringArray};
use chrono::{DateTime, Utc};
use guanxi_domain::Cents;
use guanxi_domain::profile::OrderFact;

use crate::{AnalyticsError, Result};

/// The columns the facts are made of.
const COLUMNS: [&str; 13] = [
    "order_id",
    "revision",
    "customer_id",
    "status",
    "paid_at",
    "created_at",
    "amount_cents",
    "discount_cents",
    "cost_cents",
    "refund_cents",
    "shipping_cents",
    "campaign",
    "category",
];

fn schema(e: impl std::fmt::Display) -> AnalyticsError {
    AnalyticsError::Schema(e.to_string())
}

fn lake(e: guanxi_lake::LakeError) -> AnalyticsError {
    AnalyticsError::Lake(e.to_string())
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    b.column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| schema(format!("the lake has no column {name}")))
}

fn int64<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a arrow_array::Int64Array> {
    column(b, name)?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| schema(format!("{name} is not a 64-bit integer")))
}

fn micros<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a arrow_array::PrimitiveArray<TimestampMicrosecondType>> {
    column(b, name)?
        .as_primitive_opt::<TimestampMicrosecondType>()
        .ok_or_else(|| schema(format!("{name} is not a timestamp in microseconds")))
}

fn dictionary<'a>(b: &'a RecordBatch, name: &str) -> Result<(&'a DictionaryArray<Int32Type>, &'a StringArray)> {
    let d = column(b, name)?
        .as_dictionary_opt::<Int32Type>()
        .ok_or_else(|| schema(format!("{name} is not a dictionary of text")))?;
    let values = d
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| schema(format!("{name}'s dictionary is not text")))?;
    Ok((d, values))
}

/// The lake's files.
pub(crate) struct Scan {
    files: Vec<PathBuf>,
}

/// One order's facts while its lines are summed, with its order id (to merge the rare
/// order whose lines are not adjacent) and its person.
struct Partial {
    person: i64,
    order: i64,
    fact: OrderFact,
}

impl Scan {
    pub(crate) fn open(lake: &guanxi_lake::Lake) -> Result<Scan> {
        Ok(Scan {
            files: lake.files().map_err(self::lake)?,
        })
    }

    /// When the newest order (any status, guests' included) was paid or created.
    pub(crate) fn last_order_at(&self) -> Result<Option<DateTime<Utc>>> {
        let mut last: Option<i64> = None;
        for f in &self.files {
            for batch in guanxi_lake::read(f, Some(&["paid_at", "created_at"])).map_err(lake)? {
                let b = batch.map_err(lake)?;
                let (paid, created) = (micros(&b, "paid_at")?, micros(&b, "created_at")?);
                for i in 0..b.num_rows() {
                    let t = if paid.is_null(i) {
                        created.value(i)
                    } else {
                        paid.value(i)
                    };
                    last = Some(last.map_or(t, |l| l.max(t)));
                }
            }
        }
        Ok(last.and_then(DateTime::from_timestamp_micros))
    }

    /// The newest revision of the orders updated since their first import (`revision > 1`):
    /// every other order has one revision, its first.
    fn updated(&self) -> Result<HashMap<i64, i64>> {
        let mut newest = HashMap::new();
        for f in &self.files {
            for batch in guanxi_lake::read(f, Some(&["order_id", "revision"])).map_err(lake)? {
                let b = batch.map_err(lake)?;
                let (ids, revs) = (int64(&b, "order_id")?, int64(&b, "revision")?);
                for (id, rev) in ids.values().iter().zip(revs.values()) {
                    if *rev > 1 {
                        let e = newest.entry(*id).or_insert(*rev);
                        *e = (*e).max(*rev);
                    }
                }
            }
        }
        Ok(newest)
    }

    /// Every paid order of a known buyer up to `as_of` (newest revision; a customer merged
    /// into a person counts as that person), its lines summed: (person, fact), sorted by
    /// person, then time, then order id.
    pub(crate) fn facts(
        &self,
        as_of: DateTime<Utc>,
        merged_into: &[(i64, i64)],
    ) -> Result<impl Iterator<Item = (i64, OrderFact)> + use<>> {
        let updated = self.updated()?;
        let person: HashMap<i64, i64> = merged_into.iter().copied().collect();
        let until = as_of.timestamp_micros();
        let mut partials: Vec<Partial> = Vec::new();
        for f in &self.files {
            for batch in guanxi_lake::read(f, Some(&COLUMNS)).map_err(lake)? {
                let b = batch.map_err(lake)?;
                let (order, revision, customer) = (
                    int64(&b, "order_id")?,
                    int64(&b, "revision")?,
                    int64(&b, "customer_id")?,
                );
                let (status_keys, statuses) = dictionary(&b, "status")?;
                let (paid_at, created_at) = (micros(&b, "paid_at")?, micros(&b, "created_at")?);
                let (amount, discount, cost, refund, shipping) = (
                    int64(&b, "amount_cents")?,
                    int64(&b, "discount_cents")?,
                    int64(&b, "cost_cents")?,
                    int64(&b, "refund_cents")?,
                    int64(&b, "shipping_cents")?,
                );
                let campaign = column(&b, "campaign")?;
                let (category_keys, categories) = dictionary(&b, "category")?;
                for i in 0..b.num_rows() {
                    let id = order.value(i);
                    let newest = updated.get(&id).copied().unwrap_or(1);
                    if revision.value(i) != newest || customer.is_null(i) {
                        continue;
                    }
                    let status = statuses.value(status_keys.keys().value(i) as usize);
                    if matches!(status, "created" | "closed") {
                        continue;
                    }
                    let paid_us = if paid_at.is_null(i) {
                        created_at.value(i)
                    } else {
                        paid_at.value(i)
                    };
                    if paid_us > until {
                        continue;
                    }
                    let line_category = (!category_keys.is_null(i))
                        .then(|| categories.value(category_keys.keys().value(i) as usize).to_string());
                    let mut line = OrderFact {
                        paid_at: DateTime::from_timestamp_micros(paid_us)
                            .ok_or_else(|| schema("a paid time out of range"))?,
                        paid: Cents(amount.value(i)),
                        goods: Cents(amount.value(i)),
                        discount: Cents(discount.value(i)),
                        cost: Cents(if cost.is_null(i) { 0 } else { cost.value(i) }),
                        refund: Cents(refund.value(i)),
                        campaign: !campaign.is_null(i),
                        categories: line_category.into_iter().collect(),
                    };
                    // Lines of one order are adjacent in the files the lake writes: add
                    // to the order in hand, else start the next.
                    match partials.last_mut() {
                        Some(p) if p.order == id => merge(&mut p.fact, &mut line),
                        _ => {
                            let c = customer.value(i);
                            partials.push(Partial {
                                person: person.get(&c).copied().unwrap_or(c),
                                order: id,
                                fact: OrderFact {
                                    // Shipping is an order's, written on each line: once.
                                    paid: line.paid + Cents(shipping.value(i)),
                                    ..line
                                },
                            });
                        }
                    }
                }
            }
        }
        partials.sort_by_key(|p| (p.person, p.fact.paid_at, p.order));
        // An order whose lines were not adjacent (a lake written otherwise) is one order:
        // merged in place, so that the facts are never held twice.
        partials.dedup_by(|later, kept| {
            let same = later.order == kept.order;
            if same {
                merge(&mut kept.fact, &mut later.fact);
            }
            same
        });
        for p in &mut partials {
            p.fact.categories.sort();
            p.fact.categories.dedup();
        }
        Ok(partials.into_iter().map(|p| (p.person, p.fact)))
    }
}

/// Adds `more` (lines of the same order) to `f`, taking its categories. The order's
/// shipping is in `f.paid` already: of `more`, only the goods count.
fn merge(f: &mut OrderFact, more: &mut OrderFact) {
    f.paid = f.paid + more.goods;
    f.goods = f.goods + more.goods;
    f.discount = f.discount + more.discount;
    f.cost = f.cost + more.cost;
    f.refund = f.refund + more.refund;
    f.campaign |= more.campaign;
    f.paid_at = f.paid_at.max(more.paid_at);
    f.categories.append(&mut more.categories);
}
