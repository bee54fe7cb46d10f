//! The single-machine pass over the lake (the default build): the `parquet` and `arrow`
//! crates read the columns the facts need, file by file, and Rust does what the SQL of
//! the `cluster` engine does — the newest revision of each order, paid orders of known
//! buyers up to the as-of moment, each order's lines summed, sorted by person. No query
//! engine to compile: the default binary builds in minutes, not the better part of an
//! hour (see the README).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, DictionaryArray, Int64Array, RecordBatch, StringArray};
use chrono::{DateTime, Utc};
use guanxi_domain::interner::Interner;
use guanxi_domain::profile::OrderFact;
use guanxi_domain::report::{Granularity, OrderFigures, OrderSummary, PeriodOrders};
use guanxi_domain::{Cents, OrderStatus, ShopTz};

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

/// A batch's status keys and its dictionary's statuses, each name parsed once.
fn statuses(b: &RecordBatch) -> Result<(&DictionaryArray<Int32Type>, Vec<OrderStatus>)> {
    let (keys, names) = dictionary(b, "status")?;
    let statuses = (0..names.len())
        .map(|k| OrderStatus::parse(names.value(k)).map_err(schema))
        .collect::<Result<Vec<OrderStatus>>>()?;
    Ok((keys, statuses))
}

/// A batch's order id, revision and buyer columns.
fn order_keys(b: &RecordBatch) -> Result<(&Int64Array, &Int64Array, &Int64Array)> {
    Ok((int64(b, "order_id")?, int64(b, "revision")?, int64(b, "customer_id")?))
}

/// The lake's files.
pub(crate) struct Scan {
    files: Vec<PathBuf>,
}

/// One order's facts while its lines are summed, with its order id (to merge the rare
/// order whose lines are not adjacent) and its person. Every paid order of the lake is
/// held at once until they are sorted by person, so this is kept small (80 bytes, no
/// allocation for an order of one category): times in microseconds, categories as
/// indexes into the scan's names.
struct Partial {
    person: i64,
    order: i64,
    paid_us: i64,
    /// Goods and shipping.
    paid: i64,
    goods: i64,
    discount: i64,
    cost: i64,
    refund: i64,
    /// The order's first category, or [`NONE`].
    category: u32,
    /// Its other categories: an index into the scan's lists, or [`NONE`].
    more: u32,
    campaign: bool,
}

const NONE: u32 = u32::MAX;

/// Persons per bucket of the scan's orders (16 buckets for a million customers).
const BUCKET_PERSONS: i64 = 1 << 16;

/// The categories the scan has met (each name once) and the lists of further
/// categories of the orders that have more than one.
#[derive(Default)]
struct Categories {
    names: Interner,
    more: Vec<Vec<u32>>,
}

impl Categories {
    /// Adds `more`'s lines (of the same order) to `p`. The order's shipping is in
    /// `p.paid` already: of `more`, only the goods count.
    fn merge(&mut self, p: &mut Partial, more: &Partial) {
        p.paid += more.goods;
        p.goods += more.goods;
        p.discount += more.discount;
        p.cost += more.cost;
        p.refund += more.refund;
        p.campaign |= more.campaign;
        p.paid_us = p.paid_us.max(more.paid_us);
        let extra = std::iter::once(more.category)
            .chain(self.list(more.more).iter().copied())
            .filter(|c| *c != NONE)
            .collect::<Vec<u32>>();
        for c in extra {
            if p.category == NONE {
                p.category = c;
            } else if p.category != c {
                if p.more == NONE {
                    p.more = self.more.len() as u32;
                    self.more.push(Vec::new());
                }
                self.more[p.more as usize].push(c);
            }
        }
    }

    fn list(&self, more: u32) -> &[u32] {
        self.more.get(more as usize).map_or(&[], Vec::as_slice)
    }

    fn fact(&self, p: &Partial) -> Result<OrderFact> {
        let mut categories: Vec<String> = std::iter::once(p.category)
            .chain(self.list(p.more).iter().copied())
            .filter(|c| *c != NONE)
            .map(|c| self.names.name(c).to_string())
            .collect();
        categories.sort();
        categories.dedup();
        Ok(OrderFact {
            paid_at: DateTime::from_timestamp_micros(p.paid_us).ok_or_else(|| schema("a paid time out of range"))?,
            paid: Cents(p.paid),
            goods: Cents(p.goods),
            discount: Cents(p.discount),
            cost: Cents(p.cost),
            refund: Cents(p.refund),
            campaign: p.campaign,
            categories,
        })
    }
}

impl Scan {
    pub(crate) fn open(lake: &guanxi_lake::Lake) -> Result<Scan> {
        Ok(Scan {
            files: lake.files().map_err(self::lake)?,
        })
    }

    /// Every batch of the lake's files, of `columns` alone.
    fn batches<'a>(&'a self, columns: &'a [&'a str]) -> impl Iterator<Item = Result<RecordBatch>> + 'a {
        self.files
            .iter()
            .flat_map(move |f| match guanxi_lake::read(f, Some(columns)) {
                Ok(batches) => {
                    Box::new(batches.map(|b| b.map_err(lake))) as Box<dyn Iterator<Item = Result<RecordBatch>>>
                }
                Err(e) => Box::new(std::iter::once(Err(lake(e)))),
            })
    }

    /// When the newest order (any status, guests' included) was paid or created.
    pub(crate) fn last_order_at(&self) -> Result<Option<DateTime<Utc>>> {
        let mut last: Option<i64> = None;
        for b in self.batches(&["paid_at", "created_at"]) {
            let b = b?;
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
        Ok(last.and_then(DateTime::from_timestamp_micros))
    }

    /// The newest revision of the orders updated since their first import (`revision > 1`):
    /// every other order has one revision, its first.
    fn updated(&self) -> Result<HashMap<i64, i64>> {
        let mut newest = HashMap::new();
        for b in self.batches(&["order_id", "revision"]) {
            let b = b?;
            let (ids, revs) = (int64(&b, "order_id")?, int64(&b, "revision")?);
            for (id, rev) in ids.values().iter().zip(revs.values()) {
                if *rev > 1 {
                    let e = newest.entry(*id).or_insert(*rev);
                    *e = (*e).max(*rev);
                }
            }
        }
        Ok(newest)
    }

    /// The shop's order figures at each of `granularities` over every order of the lake
    /// (newest revision; guests' and unpaid ones too), in one pass. An order's lines are
    /// adjacent in the lake: an appender writes them together, compaction keeps the order
    /// of rows.
    pub(crate) fn figures(&self, tz: ShopTz, granularities: &[Granularity]) -> Result<Vec<Vec<PeriodOrders>>> {
        const COLUMNS: [&str; 8] = [
            "order_id",
            "revision",
            "customer_id",
            "status",
            "created_at",
            "amount_cents",
            "shipping_cents",
            "refund_cents",
        ];
        let updated = self.updated()?;
        let mut figures: Vec<OrderFigures> = granularities.iter().map(|g| OrderFigures::new(tz, *g)).collect();
        let mut current: Option<(i64, OrderSummary)> = None;
        let mut done = |o: &OrderSummary| figures.iter_mut().for_each(|f| f.add_summary(o));
        for b in self.batches(&COLUMNS) {
            let b = b?;
            let (order, revision, customer) = order_keys(&b)?;
            let (status_keys, statuses) = statuses(&b)?;
            let created_at = micros(&b, "created_at")?;
            let (amount, shipping, refund) = (
                int64(&b, "amount_cents")?,
                int64(&b, "shipping_cents")?,
                int64(&b, "refund_cents")?,
            );
            for i in 0..b.num_rows() {
                let id = order.value(i);
                if revision.value(i) != updated.get(&id).copied().unwrap_or(1) {
                    continue;
                }
                match &mut current {
                    Some((o, s)) if *o == id => {
                        s.goods = s.goods + Cents(amount.value(i));
                        s.refund = s.refund + Cents(refund.value(i));
                    }
                    _ => {
                        if let Some((_, s)) = &current {
                            done(s);
                        }
                        let summary = OrderSummary {
                            created_at: DateTime::from_timestamp_micros(created_at.value(i))
                                .ok_or_else(|| schema("a creation time out of range"))?,
                            status: statuses[status_keys.keys().value(i) as usize],
                            guest: customer.is_null(i),
                            goods: Cents(amount.value(i)),
                            shipping: Cents(shipping.value(i)),
                            refund: Cents(refund.value(i)),
                        };
                        current = Some((id, summary));
                    }
                }
            }
        }
        if let Some((_, s)) = &current {
            done(s);
        }
        Ok(figures.into_iter().map(OrderFigures::finish).collect())
    }

    /// Every paid order of a known buyer up to `as_of` (newest revision; a customer merged
    /// into a person counts as that person), its lines summed: (person, fact), sorted by
    /// person, then time, then order id.
    pub(crate) fn facts(
        &self,
        as_of: DateTime<Utc>,
        merged_into: &[(i64, i64)],
    ) -> Result<impl Iterator<Item = Result<(i64, OrderFact)>> + use<>> {
        let updated = self.updated()?;
        let merges = guanxi_domain::Merges::new(merged_into);
        let until = as_of.timestamp_micros();
        // The orders in buckets of persons by id: each bucket is sorted when it is
        // reached and given back once read, so that the profiles the reader makes grow
        // as the scan's orders shrink instead of on top of them, and a bucket growing
        // copies only itself.
        let mut buckets: BTreeMap<i64, Vec<Partial>> = BTreeMap::new();
        let mut categories = Categories::default();
        for b in self.batches(&COLUMNS) {
            let b = b?;
            let (order, revision, customer) = order_keys(&b)?;
            let (status_keys, statuses) = statuses(&b)?;
            let (paid_at, created_at) = (micros(&b, "paid_at")?, micros(&b, "created_at")?);
            let (amount, discount, cost, refund, shipping) = (
                int64(&b, "amount_cents")?,
                int64(&b, "discount_cents")?,
                int64(&b, "cost_cents")?,
                int64(&b, "refund_cents")?,
                int64(&b, "shipping_cents")?,
            );
            let campaign = column(&b, "campaign")?;
            let (category_keys, names) = dictionary(&b, "category")?;
            // This batch's dictionary in the scan's ids, each name looked up once.
            let batch_categories: Vec<u32> = (0..names.len()).map(|k| categories.names.id(names.value(k))).collect();
            for i in 0..b.num_rows() {
                let id = order.value(i);
                let newest = updated.get(&id).copied().unwrap_or(1);
                if revision.value(i) != newest || customer.is_null(i) {
                    continue;
                }
                if !statuses[status_keys.keys().value(i) as usize].is_paid() {
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
                let line = Partial {
                    person: 0,
                    order: id,
                    paid_us,
                    paid: amount.value(i),
                    goods: amount.value(i),
                    discount: discount.value(i),
                    cost: if cost.is_null(i) { 0 } else { cost.value(i) },
                    refund: refund.value(i),
                    category: if category_keys.is_null(i) {
                        NONE
                    } else {
                        batch_categories[category_keys.keys().value(i) as usize]
                    },
                    more: NONE,
                    campaign: !campaign.is_null(i),
                };
                let c = customer.value(i);
                let person = merges.person(c);
                let partials = buckets.entry(person.div_euclid(BUCKET_PERSONS)).or_default();
                // Lines of one order are adjacent in the files the lake writes: add
                // to the order in hand, else start the next.
                match partials.last_mut() {
                    Some(p) if p.order == id => categories.merge(p, &line),
                    _ => partials.push(Partial {
                        person,
                        // Shipping is an order's, written on each line: once.
                        paid: line.paid + shipping.value(i),
                        ..line
                    }),
                }
            }
        }
        let mut buckets = buckets.into_values();
        let mut bucket = Vec::new().into_iter();
        Ok(std::iter::from_fn(move || {
            loop {
                if let Some(p) = bucket.next() {
                    return Some(categories.fact(&p).map(|f| (p.person, f)));
                }
                let mut partials = buckets.next()?;
                // In place: a stable sort would allocate half the bucket again. Two
                // entries with the same key are lines of one order, merged below in any
                // order.
                partials.sort_unstable_by_key(|p| (p.person, p.paid_us, p.order));
                // An order whose lines were not adjacent (a lake written otherwise) is
                // one order: merged in place, so that the facts are never held twice.
                partials.dedup_by(|later, kept| {
                    let same = later.order == kept.order;
                    if same {
                        categories.merge(kept, later);
                    }
                    same
                });
                // The bucket read before is given back here.
                bucket = partials.into_iter();
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _};
    use guanxi_domain::{CustomerKey, Order, OrderKey, OrderLine, OrderStatus, Source, StatusTimes};
    use guanxi_lake::{Lake, LakeOrder};

    use super::*;

    fn order(external: &str, paid: DateTime<Utc>, lines: &[(i64, &str)]) -> Order {
        let source = Source::parse("t").unwrap();
        Order {
            key: OrderKey {
                source: source.clone(),
                external_id: external.into(),
            },
            customer: Some(CustomerKey {
                source,
                external_id: "c".into(),
            }),
            status: OrderStatus::Paid,
            created_at: paid,
            times: StatusTimes {
                paid_at: Some(paid),
                ..Default::default()
            },
            shipping_fee: Cents(500),
            currency: None,
            coupon: None,
            campaign: None,
            province: None,
            city: None,
            lines: lines
                .iter()
                .map(|(amount, category)| OrderLine {
                    sku: None,
                    title: None,
                    category: Some((*category).into()),
                    quantity: 1,
                    amount: Cents(*amount),
                    discount: Cents(0),
                    cost: None,
                    refund: Cents(0),
                })
                .collect(),
        }
    }

    /// Persons on both sides of a bucket's edge, far apart, and one merged across
    /// buckets: every order once, by person then time, its lines summed.
    #[test]
    fn facts_come_by_person_then_time_across_buckets() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().join("lake"));
        let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let day = |d: i64| t0 + Duration::days(d);
        // (order id, customer id, order): written newest person first, times mixed.
        let orders = [
            (1, 200_000, order("a", day(3), &[(100, "x")])),
            (2, BUCKET_PERSONS, order("b", day(2), &[(200, "x"), (300, "y")])),
            (3, BUCKET_PERSONS - 1, order("c", day(5), &[(400, "y")])),
            (4, 200_000, order("d", day(1), &[(500, "x")])),
            (5, 7, order("e", day(4), &[(600, "z")])),
            // Merged into person 7 (another bucket): counted for them.
            (6, 3 * BUCKET_PERSONS + 5, order("f", day(0), &[(700, "x")])),
        ];
        let mut appender = lake.appender("t").unwrap();
        for (id, customer, o) in &orders {
            appender
                .push(LakeOrder {
                    id: *id,
                    customer_id: Some(*customer),
                    revision: 1,
                    order: o,
                })
                .unwrap();
        }
        appender.finish().unwrap().publish(&lake).unwrap();
        let scan = Scan::open(&lake).unwrap();
        let facts: Vec<(i64, DateTime<Utc>, i64, Vec<String>)> = scan
            .facts(day(10), &[(3 * BUCKET_PERSONS + 5, 7)])
            .unwrap()
            .map(|f| {
                let (person, f) = f.unwrap();
                (person, f.paid_at, f.paid.0, f.categories)
            })
            .collect();
        let cats = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            facts,
            vec![
                (7, day(0), 1200, cats(&["x"])),
                (7, day(4), 1100, cats(&["z"])),
                (BUCKET_PERSONS - 1, day(5), 900, cats(&["y"])),
                (BUCKET_PERSONS, day(2), 1000, cats(&["x", "y"])),
                (200_000, day(1), 1000, cats(&["x"])),
                (200_000, day(3), 600, cats(&["x"])),
            ]
        );
    }
}
