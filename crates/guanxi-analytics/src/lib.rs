//! Analytics over the lake with Apache DataFusion: the customer profile build.
//!
//! Design:
//! - **DataFusion scans, the domain decides.** SQL over the lake's Parquet files keeps the
//!   newest revision of each order, drops unpaid ones, sums each order's lines, and streams
//!   the per-order facts sorted by customer. Rust then groups each customer's orders and
//!   computes the measures and classes with `guanxi_domain::profile`, the same code the
//!   domain's golden tests check: one definition of every measure, computed at scale.
//! - Only this crate depends on DataFusion (its build is slow); it reads files, never the
//!   store's tables, so that Ballista executors can later run the same plans.
//! - Memory: one customer's orders at a time, plus one profile per customer.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use guanxi_domain::clv::{Fitted, Forecast, Period, Summary, summary_of};
use guanxi_domain::profile::{
    self, Classes, Explained, Measures, OrderFact, Population, ReviewFact, RfmScores, ServiceFact, Settings, Standing,
    Tier,
};
use guanxi_domain::report::{Granularity, OrderReports, Reports};
use guanxi_domain::{Cents, ShopTz};
use guanxi_lake::Lake;
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("query over the lake failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("the lake holds an unexpected column type: {0}")]
    Schema(String),
}

impl AnalyticsError {
    pub fn code(&self) -> &'static str {
        match self {
            AnalyticsError::Query(_) => "analytics_query",
            AnalyticsError::Schema(_) => "analytics_schema",
        }
    }
}

pub type Result<T, E = AnalyticsError> = std::result::Result<T, E>;

/// A DataFusion session over one lake.
pub struct Engine {
    ctx: SessionContext,
    /// False when the lake has no files yet: every query is then empty.
    has_data: bool,
}

impl Engine {
    pub async fn open(lake: &Lake) -> Result<Engine> {
        let ctx = SessionContext::new();
        let files = lake.files().map_err(|e| AnalyticsError::Schema(e.to_string()))?;
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
        Ok(Engine { ctx, has_data })
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }

    /// When the newest order was paid (or created): the default as-of moment.
    pub async fn last_order_at(&self) -> Result<Option<DateTime<Utc>>> {
        if !self.has_data {
            return Ok(None);
        }
        let batches = self
            .query("SELECT CAST(max(coalesce(paid_at, created_at)) AS BIGINT) AS t FROM order_lines")
            .await?;
        let t = batches
            .first()
            .filter(|b| b.num_rows() > 0)
            .map(|b| b.column(0).as_primitive::<Int64Type>())
            .filter(|a| !a.is_null(0))
            .map(|a| a.value(0));
        Ok(t.and_then(DateTime::from_timestamp_micros))
    }
}

/// What the store knows of people beyond their orders: each person's standing (contact,
/// blocked, target), and which customers are merged into which person. Empty: every
/// buyer is their own person with a default standing, and no non-buyers are profiled.
#[derive(Debug, Clone, Default)]
pub struct People {
    /// Every person (not merged away), buyers or not.
    pub standings: HashMap<i64, Standing>,
    /// Merged customer → the person it was merged into.
    pub merged_into: Vec<(i64, i64)>,
    /// Service records and reviews per person (merged customers' under their person),
    /// from the store: complaints, praise, DSR ratings and service costs in the profit.
    pub service: HashMap<i64, Vec<ServiceFact>>,
    pub reviews: HashMap<i64, Vec<ReviewFact>>,
}

/// Customers measured together in parallel.
const CHUNK: usize = 16 * 1024;

/// One customer's profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerProfile {
    /// The store's customer id.
    pub customer_id: i64,
    pub measures: Measures,
    pub classes: Classes,
    pub tier: Option<Explained<Tier>>,
    pub upgrade_potential: bool,
    pub rfm: Option<RfmScores>,
    /// The build's forecast for a buyer (issue 4); `None` when no model could be fitted.
    pub forecast: Option<Forecast>,
}

/// A profile build: every buyer's profile as of a moment.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileBuild {
    pub as_of: DateTime<Utc>,
    pub population: Population,
    /// Share of all profit (in the pyramid window) that VIP and major customers bring.
    pub key_customers_profit_share: f64,
    pub profiles: Vec<CustomerProfile>,
    /// The models behind the forecasts, or why there are none.
    pub prediction: std::result::Result<Fitted, String>,
    /// Where the time went, in seconds: the lake query until its first row (scan,
    /// aggregation, sort), the rest of the measures, the classes.
    pub phases: Vec<(&'static str, f64)>,
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

/// Per-person measures: every buyer from the lake (customers merged into a person count
/// for that person) in id order, then every other person of `people` in id order.
pub async fn measures(
    engine: &Engine,
    as_of: DateTime<Utc>,
    tz: ShopTz,
    s: &Settings,
    people: &People,
) -> Result<Vec<(i64, Measures)>> {
    Ok(measures_timed(engine, as_of, tz, s, people).await?.measures)
}

/// What one pass over the buyers' orders gives.
struct Measured {
    measures: Vec<(i64, Measures)>,
    /// Each buyer's repeat-purchase summary in the `[predict]` unit, for the forecasts.
    summaries: Vec<Summary<i64>>,
    /// How long the lake query took to its first row.
    first_row: f64,
}

/// [`measures`], with the buyers' repeat-purchase summaries and how long the lake query
/// took to its first row.
async fn measures_timed(
    engine: &Engine,
    as_of: DateTime<Utc>,
    tz: ShopTz,
    s: &Settings,
    people: &People,
) -> Result<Measured> {
    let Measured {
        measures: mut out,
        summaries,
        first_row,
    } = buyers(engine, as_of, tz, s, people).await?;
    let seen: std::collections::HashSet<i64> = out.iter().map(|(id, _)| *id).collect();
    let mut others: Vec<i64> = people
        .standings
        .keys()
        .copied()
        .filter(|id| !seen.contains(id))
        .collect();
    others.sort_unstable();
    for id in others {
        let (service, reviews) = extras(people, id);
        out.push((id, Measures::from_facts(&[], service, reviews, as_of, tz, s)));
    }
    Ok(Measured {
        measures: out,
        summaries,
        first_row,
    })
}

fn extras(people: &People, id: i64) -> (&[ServiceFact], &[ReviewFact]) {
    (
        people.service.get(&id).map_or(&[][..], Vec::as_slice),
        people.reviews.get(&id).map_or(&[][..], Vec::as_slice),
    )
}

async fn buyers(engine: &Engine, as_of: DateTime<Utc>, tz: ShopTz, s: &Settings, people: &People) -> Result<Measured> {
    let mut out = Vec::with_capacity(people.standings.len());
    let mut summaries = Vec::with_capacity(people.standings.len());
    let end = as_of.with_timezone(&tz.0).date_naive();
    let unit = s.predict.unit.period();
    let first_row = each_customer(engine, as_of, &people.merged_into, |chunk| {
        let done: Vec<(i64, Measures, Option<Summary<i64>>)> = chunk
            .into_par_iter()
            .map(|(id, facts)| {
                let (service, reviews) = extras(people, id);
                let bought = facts
                    .iter()
                    .map(|f| (f.paid_at.with_timezone(&tz.0).date_naive(), f.paid.0 as f64 / 100.0))
                    .collect();
                let summary = summary_of(id, bought, end, Period::Day, unit);
                (
                    id,
                    Measures::from_facts(&facts, service, reviews, as_of, tz, s),
                    summary,
                )
            })
            .collect();
        for (id, m, summary) in done {
            out.push((id, m));
            summaries.extend(summary);
        }
    })
    .await?;
    Ok(Measured {
        measures: out,
        summaries,
        first_row,
    })
}

/// Reports over the paid orders up to `as_of` (repurchase, retention, cohorts, purchase
/// cycles; customers merged into a person count as that person), in one pass.
pub async fn order_reports(
    engine: &Engine,
    as_of: DateTime<Utc>,
    tz: ShopTz,
    merged_into: &[(i64, i64)],
    granularity: Granularity,
    occasion_gap: chrono::Duration,
) -> Result<Reports> {
    let mut reports = OrderReports::new(as_of, tz, granularity).occasion_gap(occasion_gap);
    each_customer(engine, as_of, merged_into, |chunk| {
        for (_, facts) in chunk {
            reports.add(&facts);
        }
    })
    .await?;
    Ok(reports.finish())
}

/// Streams every person's paid-order facts up to `as_of` (newest revision, merged
/// customers counted for their person) to `each`, a chunk of [`CHUNK`] persons at a time
/// in id order: memory stays at one chunk of facts. Returns how long the lake query took
/// to its first row.
async fn each_customer(
    engine: &Engine,
    as_of: DateTime<Utc>,
    merged_into: &[(i64, i64)],
    mut each: impl FnMut(Vec<(i64, Vec<OrderFact>)>),
) -> Result<f64> {
    let started = std::time::Instant::now();
    let mut first_row = None;
    if !engine.has_data {
        return Ok(0.0);
    }
    let merged = !merged_into.is_empty();
    if merged {
        register_merges(&engine.ctx, merged_into)?;
    }
    let mut stream = engine
        .ctx
        .sql(&facts_sql(as_of, merged))
        .await?
        .execute_stream()
        .await?;
    let mut current: Option<i64> = None;
    let mut facts: Vec<OrderFact> = Vec::new();
    let mut pending: Vec<(i64, Vec<OrderFact>)> = Vec::with_capacity(CHUNK);
    let finish = |id: Option<i64>, facts: &mut Vec<OrderFact>, pending: &mut Vec<(i64, Vec<OrderFact>)>| {
        if let Some(id) = id {
            pending.push((id, std::mem::take(facts)));
        }
    };
    while let Some(batch) = stream.next().await {
        let b = batch?;
        first_row.get_or_insert_with(|| started.elapsed().as_secs_f64());
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
        let categories = datafusion::arrow::compute::cast(categories, &datafusion::arrow::datatypes::DataType::Utf8)
            .map_err(|e| AnalyticsError::Schema(e.to_string()))?;
        let categories = categories.as_string::<i32>();
        for i in 0..b.num_rows() {
            let id = customer.value(i);
            if current != Some(id) {
                finish(current, &mut facts, &mut pending);
                if pending.len() >= CHUNK {
                    each(std::mem::take(&mut pending));
                }
                current = Some(id);
            }
            let mut cats: Vec<String> = if categories.is_null(i) {
                Vec::new()
            } else {
                categories.value(i).split('|').map(str::to_string).collect()
            };
            cats.sort();
            cats.dedup();
            facts.push(OrderFact {
                paid_at: DateTime::from_timestamp_micros(paid_us.value(i))
                    .ok_or_else(|| AnalyticsError::Schema("a paid time out of range".into()))?,
                paid: Cents(goods.value(i) + shipping.value(i)),
                goods: Cents(goods.value(i)),
                discount: Cents(discount.value(i)),
                cost: Cents(cost.value(i)),
                refund: Cents(refund.value(i)),
                campaign: campaign.value(i) > 0,
                categories: cats,
            });
        }
    }
    finish(current, &mut facts, &mut pending);
    each(pending);
    Ok(first_row.unwrap_or_default())
}

/// Every paid order up to `until`: (person, the day it was paid in the shop's time zone,
/// amount paid in currency units), sorted by person — the transactions the prediction
/// models summarise.
pub async fn purchases(
    engine: &Engine,
    until: DateTime<Utc>,
    tz: ShopTz,
    merged_into: &[(i64, i64)],
) -> Result<Vec<(i64, chrono::NaiveDate, f64)>> {
    let mut out = Vec::new();
    each_customer(engine, until, merged_into, |chunk| {
        for (id, facts) in chunk {
            out.extend(
                facts
                    .iter()
                    .map(|f| (id, f.paid_at.with_timezone(&tz.0).date_naive(), f.paid.0 as f64 / 100.0)),
            );
        }
    })
    .await?;
    Ok(out)
}

/// Builds every person's profile as of `as_of`: buyers from the lake, non-buyers from
/// `people`.
pub async fn build(
    engine: &Engine,
    as_of: DateTime<Utc>,
    tz: ShopTz,
    s: &Settings,
    people: &People,
) -> Result<ProfileBuild> {
    let started = std::time::Instant::now();
    let Measured {
        measures,
        summaries,
        first_row,
    } = measures_timed(engine, as_of, tz, s, people).await?;
    let measured = started.elapsed().as_secs_f64();
    let mut build = assemble(measures, people, as_of, s);
    let classified = started.elapsed().as_secs_f64();
    forecast(&summaries, s, &mut build);
    build.phases = vec![
        ("lake query to its first row", first_row),
        ("measures", measured - first_row),
        ("classes", classified - measured),
        ("forecasts", started.elapsed().as_secs_f64() - classified),
    ];
    Ok(build)
}

/// Fits the prediction models to the buyers' repeat-purchase summaries and puts each
/// buyer's forecast on their profile. A fit that fails (too few customers, no
/// convergence) leaves the forecasts empty and says why in `build.prediction`: the
/// classes do not depend on it.
pub fn forecast(customers: &[Summary<i64>], s: &Settings, build: &mut ProfileBuild) {
    let fitted = match Fitted::fit(&s.predict, customers) {
        Ok(f) => f,
        Err(e) => {
            build.prediction = Err(e.to_string());
            return;
        }
    };
    let by_customer: HashMap<i64, Forecast> = customers.par_iter().map(|c| (c.key, fitted.forecast(c))).collect();
    build.profiles.par_iter_mut().for_each(|p| {
        p.forecast = by_customer.get(&p.customer_id).copied();
    });
    build.prediction = Ok(fitted);
}

/// Profiles from measures (from [`measures`], which includes the people who bought
/// nothing): the population figures, RFM and pyramid over the buyers, then each buyer's
/// classes, then the others' (relationship type only). Pure; shared by every engine.
pub fn assemble(measures: Vec<(i64, Measures)>, people: &People, as_of: DateTime<Utc>, s: &Settings) -> ProfileBuild {
    // Only buyers enter the population figures, RFM and the pyramid.
    let (measures, idle): (Vec<_>, Vec<_>) = measures.into_iter().partition(|(_, m)| m.paid_orders > 0);
    let buyers: Vec<&Measures> = measures.iter().map(|(_, m)| m).collect();
    let population = profile::population(&buyers, s);
    let pairs: Vec<(i64, &Measures)> = measures.iter().map(|(id, m)| (*id, m)).collect();
    let rfm = profile::rfm(&pairs, s);
    let values: Vec<(i64, Cents)> = measures.iter().map(|(id, m)| (*id, m.window_profit)).collect();
    let tiers = profile::pyramid(&values, s);
    let total: i64 = values.iter().map(|(_, v)| v.0.max(0)).sum();
    let key: i64 = values
        .iter()
        .zip(&tiers)
        .filter(|(_, t)| matches!(t, Tier::Vip | Tier::Major))
        .map(|((_, v), _)| v.0.max(0))
        .sum();
    let ranks = profile::ranks(&values);
    let n = measures.len();
    let standing = |id: i64| people.standings.get(&id).copied().unwrap_or_default();
    let mut profiles: Vec<CustomerProfile> = Vec::with_capacity(measures.len() + idle.len());
    profiles.par_extend(
        measures
            .into_par_iter()
            .zip(rfm)
            .zip(tiers)
            .zip(ranks)
            .map(|((((id, m), rfm), tier), rank)| {
            let classes = profile::classify(&m, &population, standing(id), s);
            let growth = m.previous_amount.0 > 0
                && m.recent_amount.0 as f64 > s.pyramid.upgrade_growth * m.previous_amount.0 as f64;
            let upgrade_potential = matches!(tier, Tier::Ordinary | Tier::Small) && growth;
            let why = format!(
                "{tier}: rank {} of {n} buyers by profit in the last {} months ({}); top {}% VIP, next {}% major, next {}% ordinary",
                rank,
                s.pyramid.window_months,
                m.window_profit,
                s.pyramid.vip_percent,
                s.pyramid.major_percent,
                s.pyramid.ordinary_percent
            );
            CustomerProfile {
                customer_id: id,
                measures: m,
                classes,
                tier: Some(Explained { class: tier, why }),
                upgrade_potential,
                rfm: Some(rfm),
                forecast: None,
            }
        }),
    );
    profiles.par_extend(idle.into_par_iter().map(|(id, m)| {
        let classes = profile::classify(&m, &population, standing(id), s);
        CustomerProfile {
            customer_id: id,
            measures: m,
            classes,
            tier: None,
            upgrade_potential: false,
            rfm: None,
            forecast: None,
        }
    }));
    ProfileBuild {
        as_of,
        population,
        key_customers_profit_share: if total > 0 { key as f64 / total as f64 } else { 0.0 },
        profiles,
        prediction: Err("not forecast".into()),
        phases: Vec::new(),
    }
}
