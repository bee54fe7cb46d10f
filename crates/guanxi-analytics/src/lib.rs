//! Analytics over the lake: the customer profile build and the order reports.
//!
//! Design:
//! - **One scan, the domain decides.** A pass over the lake's Parquet files keeps the
//!   newest revision of each order, drops unpaid ones and guests', sums each order's lines,
//!   and hands the per-order facts sorted by person to Rust, which groups each person's
//!   orders and computes the measures and classes with `guanxi_domain::profile`, the same
//!   code the domain's golden tests check: one definition of every measure, at scale.
//! - **Two engines for the scan.** The default (`scan.rs`) reads the files with the
//!   `parquet`/`arrow` crates on one machine. With the `cluster` feature, `cluster.rs`
//!   runs the same scan as an Apache DataFusion plan (Ballista's executors later); a
//!   test holds the two equal. DataFusion is behind the feature because it is most of a
//!   newcomer's first build.
//! - This crate reads files, never the store's tables.
//! - Memory: the scan's per-order facts, then one chunk of persons at a time, plus one
//!   profile per person.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use guanxi_domain::clv::{Fitted, Forecast, Period, Summary, summary_of};
use guanxi_domain::profile::{
    self, Classes, Explained, Measures, OrderFact, Population, ReviewFact, RfmScores, ServiceFact, Settings, Standing,
    Tier,
};
use guanxi_domain::report::{Granularity, OrderReports, Reports};
use guanxi_domain::{Cents, ShopTz};
use guanxi_lake::Lake;

#[cfg(feature = "cluster")]
mod cluster;
mod scan;
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[cfg(feature = "cluster")]
    #[error("query over the lake failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("cannot read the lake: {0}")]
    Lake(String),
    #[error("the lake holds an unexpected column type: {0}")]
    Schema(String),
}

impl AnalyticsError {
    pub fn code(&self) -> &'static str {
        match self {
            #[cfg(feature = "cluster")]
            AnalyticsError::Query(_) => "analytics_query",
            AnalyticsError::Lake(_) => "analytics_lake",
            AnalyticsError::Schema(_) => "analytics_schema",
        }
    }
}

pub type Result<T, E = AnalyticsError> = std::result::Result<T, E>;

/// A scan of one lake, by the engine of this build.
pub struct Engine {
    scan: Scan,
}

enum Scan {
    Files(scan::Scan),
    #[cfg(feature = "cluster")]
    DataFusion(cluster::Session),
}

impl Engine {
    /// The engine of this build: the single-machine scan, or with the `cluster` feature
    /// the DataFusion plan.
    pub async fn open(lake: &Lake) -> Result<Engine> {
        #[cfg(feature = "cluster")]
        return Engine::open_datafusion(lake).await;
        #[cfg(not(feature = "cluster"))]
        return Engine::open_files(lake);
    }

    /// The single-machine scan.
    pub fn open_files(lake: &Lake) -> Result<Engine> {
        Ok(Engine {
            scan: Scan::Files(scan::Scan::open(lake)?),
        })
    }

    /// The same scan as an Apache DataFusion plan.
    #[cfg(feature = "cluster")]
    pub async fn open_datafusion(lake: &Lake) -> Result<Engine> {
        Ok(Engine {
            scan: Scan::DataFusion(cluster::Session::open(lake).await?),
        })
    }

    /// When the newest order was paid (or created): the default as-of moment.
    pub async fn last_order_at(&self) -> Result<Option<DateTime<Utc>>> {
        match &self.scan {
            Scan::Files(s) => s.last_order_at(),
            #[cfg(feature = "cluster")]
            Scan::DataFusion(s) => s.last_order_at().await,
        }
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
/// in id order. Returns how long the scan took to its first fact.
async fn each_customer(
    engine: &Engine,
    as_of: DateTime<Utc>,
    merged_into: &[(i64, i64)],
    each: impl FnMut(Vec<(i64, Vec<OrderFact>)>),
) -> Result<f64> {
    let started = std::time::Instant::now();
    let mut chunks = Chunks::new(each);
    match &engine.scan {
        Scan::Files(s) => {
            let facts = s.facts(as_of, merged_into)?;
            let first = started.elapsed().as_secs_f64();
            for (person, fact) in facts {
                chunks.push(person, fact);
            }
            chunks.finish();
            Ok(first)
        }
        #[cfg(feature = "cluster")]
        Scan::DataFusion(s) => {
            let first = s
                .each_fact(as_of, merged_into, |person, fact| chunks.push(person, fact))
                .await?;
            chunks.finish();
            Ok(first.map_or(0.0, |t| t.duration_since(started).as_secs_f64()))
        }
    }
}

/// Facts sorted by person, grouped into persons and handed on [`CHUNK`] persons at a
/// time. Each person's orders in time order (then by their figures, so that two orders of
/// one moment come in one order), whatever order the engine gave them in.
struct Chunks<F: FnMut(Vec<(i64, Vec<OrderFact>)>)> {
    each: F,
    current: Option<(i64, Vec<OrderFact>)>,
    pending: Vec<(i64, Vec<OrderFact>)>,
}

impl<F: FnMut(Vec<(i64, Vec<OrderFact>)>)> Chunks<F> {
    fn new(each: F) -> Self {
        Chunks {
            each,
            current: None,
            pending: Vec::with_capacity(CHUNK),
        }
    }

    fn push(&mut self, person: i64, fact: OrderFact) {
        match &mut self.current {
            Some((p, facts)) if *p == person => facts.push(fact),
            _ => {
                self.close();
                self.current = Some((person, vec![fact]));
            }
        }
    }

    fn close(&mut self) {
        if let Some((p, mut facts)) = self.current.take() {
            facts.sort_by(|a, b| {
                let key = |f: &OrderFact| {
                    (
                        f.paid_at,
                        f.paid.0,
                        f.goods.0,
                        f.discount.0,
                        f.cost.0,
                        f.refund.0,
                        f.campaign,
                    )
                };
                key(a).cmp(&key(b)).then_with(|| a.categories.cmp(&b.categories))
            });
            self.pending.push((p, facts));
            if self.pending.len() >= CHUNK {
                (self.each)(std::mem::take(&mut self.pending));
            }
        }
    }

    fn finish(mut self) {
        self.close();
        (self.each)(std::mem::take(&mut self.pending));
    }
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
