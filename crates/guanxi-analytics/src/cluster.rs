//! The scan as an Apache DataFusion plan (the `cluster` feature): SQL over the lake's
//! Parquet files, streamed. Equal to the single-machine scan (`scan.rs`) by test.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use guanxi_domain::profile::OrderFact;
use guanxi_domain::report::{Granularity, OrderFigures, OrderSummary, PeriodOrders};
use guanxi_domain::{Cents, OrderStatus, ShopTz};
use guanxi_lake::Lake;

use crate::{AnalyticsError, Result};

/// A DataFusion session over one lake.
pub(crate) struct Session {
    ctx: SessionContext,
    /// False when the lake has no files yet: every query is then empty.
    has_data: bool,
}

impl Session {
    pub(crate) async fn open(lake: &Lake) -> Result<Session> {
        let ctx = SessionContext::new();
        let files = lake.files().map_err(|e| AnalyticsError::Lake(e.to_string()))?;
        let has_data = !files.is_empty();
        if has_data {
            let dir = lake.order_lines_dir();
            ctx.register_parquet(
                "order_lines",
                dir.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await?;
        }
        Ok(Session { ctx, has_data })
    }

    pub(crate) async fn last_order_at(&self) -> Result<Option<DateTime<Utc>>> {
        if !self.has_data {
            return Ok(None);
        }
        let batches = self
            .ctx
            .sql("SELECT CAST(max(coalesce(paid_at, created_at)) AS BIGINT) AS t FROM order_lines")
            .await?
            .collect()
            .await?;
        let t = batches
            .first()
            .filter(|b| b.num_rows() > 0)
            .map(|b| b.column(0).as_primitive::<Int64Type>())
            .filter(|a| !a.is_null(0))
            .map(|a| a.value(0));
        Ok(t.and_then(DateTime::from_timestamp_micros))
    }

    /// Hands every (person, fact) to `each`, sorted by person; returns when the first
    /// came.
    pub(crate) async fn each_fact(
        &self,
        as_of: DateTime<Utc>,
        merged_into: &[(i64, i64)],
        mut each: impl FnMut(i64, OrderFact),
    ) -> Result<Option<std::time::Instant>> {
        if !self.has_data {
            return Ok(None);
        }
        let merged = !merged_into.is_empty();
        if merged {
            register_merges(&self.ctx, merged_into)?;
        }
        let mut stream = self.ctx.sql(&facts_sql(as_of, merged)).await?.execute_stream().await?;
        let mut first = None;
        while let Some(batch) = stream.next().await {
            let b = batch?;
            first.get_or_insert_with(std::time::Instant::now);
            let customer = i64_col(&b, "customer_id")?;
            let paid_us = i64_col(&b, "paid_us")?;
            let (goods, discount, cost, refund, shipping, campaign) = (
                i64_col(&b, "goods")?,
                i64_col(&b, "discount")?,
                i64_col(&b, "cost")?,
                i64_col(&b, "refund")?,
                i64_col(&b, "shipping")?,
                i64_col(&b, "campaign")?,
            );
            let categories = b
                .column_by_name("categories")
                .ok_or_else(|| AnalyticsError::Schema("categories".into()))?;
            let categories =
                datafusion::arrow::compute::cast(categories, &datafusion::arrow::datatypes::DataType::Utf8)
                    .map_err(|e| AnalyticsError::Schema(e.to_string()))?;
            let categories = categories.as_string::<i32>();
            for i in 0..b.num_rows() {
                let mut cats: Vec<String> = if categories.is_null(i) {
                    Vec::new()
                } else {
                    categories.value(i).split('|').map(str::to_string).collect()
                };
                cats.sort();
                cats.dedup();
                each(
                    customer.value(i),
                    OrderFact {
                        paid_at: DateTime::from_timestamp_micros(paid_us.value(i))
                            .ok_or_else(|| AnalyticsError::Schema("a paid time out of range".into()))?,
                        paid: Cents(goods.value(i) + shipping.value(i)),
                        goods: Cents(goods.value(i)),
                        discount: Cents(discount.value(i)),
                        cost: Cents(cost.value(i)),
                        refund: Cents(refund.value(i)),
                        campaign: campaign.value(i) > 0,
                        categories: cats,
                    },
                );
            }
        }
        Ok(first)
    }
}

impl Session {
    /// The shop's order figures at each of `granularities`: every order's summary (newest
    /// revision, any status, any buyer or none) from one aggregation, folded by the domain.
    pub(crate) async fn figures(&self, tz: ShopTz, granularities: &[Granularity]) -> Result<Vec<Vec<PeriodOrders>>> {
        let mut figures: Vec<OrderFigures> = granularities.iter().map(|g| OrderFigures::new(tz, *g)).collect();
        if self.has_data {
            let sql = "WITH updated AS (SELECT order_id, max(revision) AS revision FROM order_lines WHERE revision > 1 GROUP BY order_id) \
                 SELECT max(CAST(l.created_at AS BIGINT)) AS created_us, max(CAST(l.status AS VARCHAR)) AS status, \
                        max(CASE WHEN l.customer_id IS NULL THEN 1 ELSE 0 END) AS guest, \
                        sum(l.amount_cents) AS goods, max(l.shipping_cents) AS shipping, sum(l.refund_cents) AS refund \
                 FROM order_lines l LEFT JOIN updated u ON l.order_id = u.order_id \
                 WHERE (u.revision IS NULL OR l.revision = u.revision) \
                 GROUP BY l.order_id";
            let mut stream = self.ctx.sql(sql).await?.execute_stream().await?;
            let bad = |e: String| AnalyticsError::Schema(e);
            while let Some(batch) = stream.next().await {
                let b = batch?;
                let (created, guest, goods, shipping, refund) = (
                    i64_col(&b, "created_us")?,
                    i64_col(&b, "guest")?,
                    i64_col(&b, "goods")?,
                    i64_col(&b, "shipping")?,
                    i64_col(&b, "refund")?,
                );
                let status = b.column_by_name("status").ok_or_else(|| bad("status".into()))?;
                let status = datafusion::arrow::compute::cast(status, &datafusion::arrow::datatypes::DataType::Utf8)
                    .map_err(|e| bad(e.to_string()))?;
                let status = status.as_string::<i32>();
                for i in 0..b.num_rows() {
                    let summary = OrderSummary {
                        created_at: DateTime::from_timestamp_micros(created.value(i))
                            .ok_or_else(|| bad("a creation time out of range".into()))?,
                        status: OrderStatus::parse(status.value(i)).map_err(|e| bad(e.to_string()))?,
                        guest: guest.value(i) > 0,
                        goods: Cents(goods.value(i)),
                        shipping: Cents(shipping.value(i)),
                        refund: Cents(refund.value(i)),
                    };
                    figures.iter_mut().for_each(|f| f.add_summary(&summary));
                }
            }
        }
        Ok(figures.into_iter().map(OrderFigures::finish).collect())
    }
}

/// The SQL for per-order facts, newest revision only, paid orders of known buyers only
/// (guest orders are in no profile), sorted by person
/// (`merged` joins the `merges` table, so that a merged customer's orders count for the
/// person they were merged into).
///
/// The newest revision: only orders updated since their first import have rows with
/// `revision > 1`, and Parquet statistics let the scan for them skip every row group
/// of a lake without updates; joining that small table keeps the build one pass over the
/// lines (joining a max-revision-per-order table of every order cost a second full
/// aggregation and a join of all lines).
fn facts_sql(as_of: DateTime<Utc>, merged: bool) -> String {
    let (customer, merges) = if merged {
        (
            "coalesce(m.person_id, l.customer_id)",
            "LEFT JOIN merges m ON l.customer_id = m.customer_id",
        )
    } else {
        ("l.customer_id", "")
    };
    // Grouped by order alone: within the newest revision an order has one customer and
    // one paid time, taken with max(); one key hashes faster than three. Sorted by
    // customer only: the measures sort each customer's orders by time themselves.
    format!(
        "WITH updated AS (SELECT order_id, max(revision) AS revision FROM order_lines WHERE revision > 1 GROUP BY order_id) \
         SELECT max({customer}) AS customer_id, \
                max(CAST(coalesce(l.paid_at, l.created_at) AS BIGINT)) AS paid_us, \
                sum(l.amount_cents) AS goods, sum(l.discount_cents) AS discount, \
                sum(coalesce(l.cost_cents, 0)) AS cost, sum(l.refund_cents) AS refund, \
                max(l.shipping_cents) AS shipping, \
                max(CASE WHEN l.campaign IS NULL THEN 0 ELSE 1 END) AS campaign, \
                string_agg(CAST(l.category AS VARCHAR), '|') AS categories \
         FROM order_lines l LEFT JOIN updated u ON l.order_id = u.order_id {merges} \
         WHERE (u.revision IS NULL OR l.revision = u.revision) \
           AND l.customer_id IS NOT NULL \
           AND CAST(l.status AS VARCHAR) NOT IN ('created', 'closed') \
           AND CAST(coalesce(l.paid_at, l.created_at) AS BIGINT) <= {} \
         GROUP BY l.order_id \
         ORDER BY customer_id",
        as_of.timestamp_micros()
    )
}

/// Registers merged customer → person as the `merges` table (replacing an earlier one:
/// a build's measures and forecasts each register it).
fn register_merges(ctx: &SessionContext, merged_into: &[(i64, i64)]) -> Result<()> {
    ctx.deregister_table("merges")?;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("person_id", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(merged_into.iter().map(|m| m.0))),
            Arc::new(Int64Array::from_iter_values(merged_into.iter().map(|m| m.1))),
        ],
    )
    .map_err(|e| AnalyticsError::Schema(e.to_string()))?;
    let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])?;
    ctx.deregister_table("merges")?;
    ctx.register_table("merges", Arc::new(table))?;
    Ok(())
}

fn i64_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a datafusion::arrow::array::PrimitiveArray<Int64Type>> {
    b.column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| AnalyticsError::Schema(format!("{name} is not a 64-bit integer")))
}
