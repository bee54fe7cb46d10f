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
//! - Memory: the scan's per-order facts (80 bytes an order, sorted in place), then one
//!   chunk of persons at a time into their measures; profiles are made from the
//!   measures a chunk at a time (`Assembled::chunks`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use guanxi_domain::clv::{Fitted, Forecast, Period, Summary, summary_of};
use guanxi_domain::profile::{
    self, Classes, Explained, Measures, OrderFact, Population, ReviewFact, RfmScores, ServiceFact, Settings, Standing,
    Tier,
};
use guanxi_domain::report::{Granularity, OrderReports, PeriodOrders, Reports};
use guanxi_domain::{Cents, ShopTz};
use guanxi_lake::{Lake, LakeVersion};

#[cfg(feature = "cluster")]
mod cluster;
mod scan;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

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

    /// The shop's order figures at each of `granularities` over every order in the lake
    /// (newest revision, guests' and unpaid ones too).
    pub async fn order_figures(&self, tz: ShopTz, granularities: &[Granularity]) -> Result<Vec<Vec<PeriodOrders>>> {
        match &self.scan {
            Scan::Files(s) => s.figures(tz, granularities),
            #[cfg(feature = "cluster")]
            Scan::DataFusion(s) => s.figures(tz, granularities).await,
        }
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

/// The granularities the shop's reports are kept at.
pub const GRANULARITIES: [Granularity; 3] = [Granularity::Month, Granularity::Quarter, Granularity::Year];

/// The shop's reports at every granularity as of the last order — the reports over paid
/// orders (repurchase, categories, retention, cohorts, cycles) and the order figures over
/// every order — with what they were computed from, so that they can be kept (beside the
/// lake) and served until the lake or the merges change, instead of a pass over every
/// order at each first view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopReports {
    pub basis: ReportsBasis,
    pub reports: Vec<Reports>,
    pub figures: Vec<(Granularity, Vec<PeriodOrders>)>,
}

/// What shop reports are computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportsBasis {
    pub lake: LakeVersion,
    /// Merged customer → person: a merge moves a customer's orders to the person.
    pub merged_into: Vec<(i64, i64)>,
    /// The shop's time zone (periods are shop days).
    pub tz: String,
    /// The `[cycle]` setting: cycles are measured over purchase occasions.
    pub occasion_gap_seconds: i64,
}

impl ReportsBasis {
    /// The basis of reports computed from `lake` now.
    pub fn of(lake: &Lake, merged_into: &[(i64, i64)], tz: ShopTz, occasion_gap: chrono::Duration) -> Result<Self> {
        let version = lake.version().map_err(|e| AnalyticsError::Lake(e.to_string()))?;
        Ok(ReportsBasis::new(version, merged_into, tz, occasion_gap))
    }

    pub fn new(lake: LakeVersion, merged_into: &[(i64, i64)], tz: ShopTz, occasion_gap: chrono::Duration) -> Self {
        let mut merged_into = merged_into.to_vec();
        merged_into.sort_unstable();
        ReportsBasis {
            lake,
            merged_into,
            tz: tz.0.name().to_string(),
            occasion_gap_seconds: occasion_gap.num_seconds(),
        }
    }

    fn occasion_gap(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.occasion_gap_seconds)
    }
}

impl ShopReports {
    pub fn reports(&self, g: Granularity) -> Option<&Reports> {
        self.reports.iter().find(|r| r.granularity == g)
    }

    pub fn figures(&self, g: Granularity) -> Option<&[PeriodOrders]> {
        self.figures.iter().find(|(f, _)| *f == g).map(|(_, p)| p.as_slice())
    }
}

/// The shop's reports as of the last order, in one pass over the paid orders and one over
/// every order; `None` when the lake holds no orders.
pub async fn shop_reports(engine: &Engine, tz: ShopTz, basis: ReportsBasis) -> Result<Option<ShopReports>> {
    let Some(as_of) = engine.last_order_at().await? else {
        return Ok(None);
    };
    let mut reports = report_accumulators(as_of, tz, &basis);
    each_customer(engine, as_of, &basis.merged_into, |chunk| {
        add_to_reports(&mut reports, &chunk)
    })
    .await?;
    Ok(Some(finish_reports(engine, tz, basis, reports).await?))
}

/// Where shop reports are kept, beside the lake's files.
const KEPT: &str = "shop-reports.json";

/// The shop reports kept beside the lake, when they were computed from `basis`.
pub fn kept_shop_reports(lake: &Lake, basis: &ReportsBasis) -> Result<Option<ShopReports>> {
    let Some(text) = lake.snapshot(KEPT).map_err(|e| AnalyticsError::Lake(e.to_string()))? else {
        return Ok(None);
    };
    // Kept by an older guanxi (another shape) is as good as not kept: computed again.
    Ok(serde_json::from_str::<ShopReports>(&text)
        .ok()
        .filter(|r| r.basis == *basis))
}

/// Keeps `reports` beside the lake (replacing what was kept).
pub fn keep_shop_reports(lake: &Lake, reports: &ShopReports) -> Result<()> {
    let text = serde_json::to_string(reports).map_err(|e| AnalyticsError::Schema(e.to_string()))?;
    lake.put_snapshot(KEPT, &text)
        .map_err(|e| AnalyticsError::Lake(e.to_string()))
}

/// The shop's reports as of the last order: those kept beside the lake while the lake,
/// the merges, the time zone and the cycle setting are what they were computed from
/// (`basis`, taken before the files are read), else computed (and kept). `None` when the
/// lake holds no orders.
pub async fn current_shop_reports(lake: &Lake, tz: ShopTz, basis: ReportsBasis) -> Result<Option<ShopReports>> {
    if let Some(kept) = kept_shop_reports(lake, &basis)? {
        return Ok(Some(kept));
    }
    let engine = Engine::open(lake).await?;
    let reports = shop_reports(&engine, tz, basis).await?;
    if let Some(r) = &reports {
        keep_shop_reports(lake, r)?;
    }
    Ok(reports)
}

fn report_accumulators(as_of: DateTime<Utc>, tz: ShopTz, basis: &ReportsBasis) -> Vec<OrderReports> {
    GRANULARITIES
        .iter()
        .map(|g| OrderReports::new(as_of, tz, *g).occasion_gap(basis.occasion_gap()))
        .collect()
}

/// Each granularity's accumulator takes the chunk on a thread of its own.
fn add_to_reports(reports: &mut [OrderReports], chunk: &[(i64, Vec<OrderFact>)]) {
    reports.par_iter_mut().for_each(|r| {
        for (_, facts) in chunk {
            r.add(facts);
        }
    });
}

async fn finish_reports(
    engine: &Engine,
    tz: ShopTz,
    basis: ReportsBasis,
    reports: Vec<OrderReports>,
) -> Result<ShopReports> {
    let figures = engine.order_figures(tz, &GRANULARITIES).await?;
    Ok(ShopReports {
        basis,
        reports: reports.into_iter().map(OrderReports::finish).collect(),
        figures: GRANULARITIES.into_iter().zip(figures).collect(),
    })
}

/// Customers measured together in parallel.
const CHUNK: usize = 16 * 1024;

/// One customer's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The shop's reports from the same pass, when the build was asked for them.
    #[serde(skip)]
    pub reports: Option<ShopReports>,
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
    Ok(measures_timed(engine, as_of, tz, s, people, None).await?.measures)
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
    reports: Option<&mut [OrderReports]>,
) -> Result<Measured> {
    let Measured {
        measures: mut out,
        summaries,
        first_row,
    } = buyers(engine, as_of, tz, s, people, reports).await?;
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

/// The buyers' measures (and summaries), each chunk of buyers also added to `reports`.
async fn buyers(
    engine: &Engine,
    as_of: DateTime<Utc>,
    tz: ShopTz,
    s: &Settings,
    people: &People,
    mut reports: Option<&mut [OrderReports]>,
) -> Result<Measured> {
    let mut out = Vec::with_capacity(people.standings.len());
    let mut summaries = Vec::with_capacity(people.standings.len());
    let end = as_of.with_timezone(&tz.0).date_naive();
    let unit = s.predict.unit.period();
    let first_row = each_customer(engine, as_of, &people.merged_into, |chunk| {
        if let Some(r) = reports.as_deref_mut() {
            add_to_reports(r, &chunk);
        }
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
            for fact in facts {
                let (person, fact) = fact?;
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
/// `people`. With a `reports` basis (when `as_of` is the last order), the shop's reports
/// come from the same pass over the paid orders.
pub async fn build(
    engine: &Engine,
    as_of: DateTime<Utc>,
    tz: ShopTz,
    s: &Settings,
    people: &People,
    reports: Option<ReportsBasis>,
) -> Result<ProfileBuild> {
    Ok(assembled(engine, as_of, tz, s, people, reports).await?.into_build())
}

/// A build up to its profiles: the measures, the population figures, the forecasts (and
/// the shop's reports, with a `reports` basis). [`Assembled::chunks`] makes the
/// profiles.
pub async fn assembled(
    engine: &Engine,
    as_of: DateTime<Utc>,
    tz: ShopTz,
    s: &Settings,
    people: &People,
    reports: Option<ReportsBasis>,
) -> Result<Assembled> {
    let started = std::time::Instant::now();
    let mut accumulators = reports.as_ref().map(|b| report_accumulators(as_of, tz, b));
    let Measured {
        measures,
        summaries,
        first_row,
    } = measures_timed(engine, as_of, tz, s, people, accumulators.as_deref_mut()).await?;
    let measured = started.elapsed().as_secs_f64();
    let mut build = assemble(measures, people, as_of, s);
    let classified = started.elapsed().as_secs_f64();
    build.forecast(&summaries);
    drop(summaries);
    let forecast = started.elapsed().as_secs_f64();
    if let (Some(basis), Some(r)) = (reports, accumulators) {
        build.reports = Some(finish_reports(engine, tz, basis, r).await?);
    }
    build.phases = vec![
        ("lake query to its first row", first_row),
        ("measures (and reports)", measured - first_row),
        ("population, RFM, pyramid", classified - measured),
        ("forecasts", forecast - classified),
        ("order figures", started.elapsed().as_secs_f64() - forecast),
    ];
    Ok(build)
}

/// One buyer's place among the buyers.
struct Place {
    rfm: RfmScores,
    tier: Tier,
    /// By profit in the pyramid window, 1 the most.
    rank: usize,
}

/// A build before its profiles are made: the population figures, the forecasts and every
/// person's measures with their place among the buyers. The profiles — with their
/// explanations, most of a profile's memory — are made from it a chunk at a time
/// ([`Assembled::chunks`]), so that storing a million profiles never holds them all.
pub struct Assembled {
    pub as_of: DateTime<Utc>,
    pub population: Population,
    /// Share of all profit (in the pyramid window) that VIP and major customers bring.
    pub key_customers_profit_share: f64,
    /// The models behind the forecasts, or why there are none.
    pub prediction: std::result::Result<Fitted, String>,
    /// The shop's reports from the same pass, when the build was asked for them.
    pub reports: Option<ShopReports>,
    /// Where the time went, in seconds.
    pub phases: Vec<(&'static str, f64)>,
    /// The buyers' measures, in id order (where the scan made them: a million are not
    /// copied again).
    buyers: Vec<(i64, Measures)>,
    /// Each buyer's place, in the same order.
    places: Vec<Place>,
    /// Everyone else, in id order.
    idle: Vec<(i64, Measures)>,
    /// By customer id, sorted (half a hash map's room at a million buyers).
    forecasts: Vec<(i64, Forecast)>,
    standings: HashMap<i64, Standing>,
    settings: Settings,
}

/// Profiles made together in parallel when a build is stored.
const PROFILES_CHUNK: usize = 16 * 1024;

/// Profiles from measures (from [`measures`], which includes the people who bought
/// nothing): the population figures, RFM and pyramid over the buyers, each buyer's place
/// in them. Pure; shared by every engine.
pub fn assemble(measures: Vec<(i64, Measures)>, people: &People, as_of: DateTime<Utc>, s: &Settings) -> Assembled {
    // Only buyers enter the population figures, RFM and the pyramid. Those who bought
    // nothing are taken out in place: the buyers stay where they are.
    let mut measures = measures;
    let idle: Vec<(i64, Measures)> = measures.extract_if(.., |(_, m)| m.paid_orders == 0).collect();
    let buyers: Vec<&Measures> = measures.iter().map(|(_, m)| m).collect();
    let population = profile::population(&buyers, s);
    drop(buyers);
    let pairs: Vec<(i64, &Measures)> = measures.iter().map(|(id, m)| (*id, m)).collect();
    let rfm = profile::rfm(&pairs, s);
    drop(pairs);
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
    drop(values);
    let places = rfm
        .into_iter()
        .zip(tiers)
        .zip(ranks)
        .map(|((rfm, tier), rank)| Place { rfm, tier, rank })
        .collect();
    Assembled {
        as_of,
        population,
        key_customers_profit_share: if total > 0 { key as f64 / total as f64 } else { 0.0 },
        prediction: Err("not forecast".into()),
        reports: None,
        phases: Vec::new(),
        buyers: measures,
        places,
        idle,
        forecasts: Vec::new(),
        standings: people.standings.clone(),
        settings: s.clone(),
    }
}

impl Assembled {
    /// Fits the prediction models to the buyers' repeat-purchase summaries, for each
    /// buyer's forecast. A fit that fails (too few customers, no convergence) leaves the
    /// forecasts empty and says why in `prediction`: the classes do not depend on it.
    pub fn forecast(&mut self, customers: &[Summary<i64>]) {
        match Fitted::fit(&self.settings.predict, customers) {
            Ok(fitted) => {
                let mut forecasts: Vec<(i64, Forecast)> =
                    customers.par_iter().map(|c| (c.key, fitted.forecast(c))).collect();
                forecasts.sort_unstable_by_key(|(id, _)| *id);
                self.forecasts = forecasts;
                self.prediction = Ok(fitted);
            }
            Err(e) => self.prediction = Err(e.to_string()),
        }
    }

    /// How many profiles: every buyer and everyone else.
    pub fn len(&self) -> usize {
        self.buyers.len() + self.idle.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn standing(&self, id: i64) -> Standing {
        self.standings.get(&id).copied().unwrap_or_default()
    }

    /// The profile of buyer `i` (of [`Assembled::buyers`]).
    fn buyer(&self, i: usize) -> CustomerProfile {
        let ((id, m), b) = (&self.buyers[i], &self.places[i]);
        let (s, tier, id) = (&self.settings, b.tier, *id);
        let classes = profile::classify(m, &self.population, self.standing(id), s);
        let growth =
            m.previous_amount.0 > 0 && m.recent_amount.0 as f64 > s.pyramid.upgrade_growth * m.previous_amount.0 as f64;
        let upgrade_potential = matches!(tier, Tier::Ordinary | Tier::Small) && growth;
        let why = format!(
            "{tier}: rank {} of {} buyers by profit in the last {} months ({}); top {}% VIP, next {}% major, next {}% ordinary",
            b.rank,
            self.buyers.len(),
            s.pyramid.window_months,
            m.window_profit,
            s.pyramid.vip_percent,
            s.pyramid.major_percent,
            s.pyramid.ordinary_percent
        );
        CustomerProfile {
            customer_id: id,
            measures: m.clone(),
            classes,
            tier: Some(Explained { class: tier, why }),
            upgrade_potential,
            rfm: Some(b.rfm.clone()),
            forecast: self
                .forecasts
                .binary_search_by_key(&id, |(id, _)| *id)
                .ok()
                .map(|i| self.forecasts[i].1),
        }
    }

    fn other(&self, id: i64, m: &Measures) -> CustomerProfile {
        CustomerProfile {
            customer_id: id,
            measures: m.clone(),
            classes: profile::classify(m, &self.population, self.standing(id), &self.settings),
            tier: None,
            upgrade_potential: false,
            rfm: None,
            forecast: None,
        }
    }

    /// Every profile in customer id order, a chunk at a time, each chunk made (in
    /// parallel) when it is asked for: a store writing them pulls the next chunk only
    /// when it has written the last.
    pub fn chunks(&self) -> impl Iterator<Item = Vec<CustomerProfile>> + Send + '_ {
        enum Who<'a> {
            Buyer(usize),
            Other(i64, &'a Measures),
        }
        let (mut buyers, mut idle) = (self.buyers.iter().enumerate().peekable(), self.idle.iter().peekable());
        std::iter::from_fn(move || {
            let mut chunk: Vec<Who<'_>> = Vec::with_capacity(PROFILES_CHUNK);
            while chunk.len() < PROFILES_CHUNK {
                let next = match (buyers.peek(), idle.peek()) {
                    (Some((_, (b, _))), Some((id, _))) if b < id => buyers.next().map(|(i, _)| Who::Buyer(i)),
                    (Some(_), None) => buyers.next().map(|(i, _)| Who::Buyer(i)),
                    _ => idle.next().map(|(id, m)| Who::Other(*id, m)),
                };
                match next {
                    Some(w) => chunk.push(w),
                    None => break,
                }
            }
            (!chunk.is_empty()).then(|| {
                chunk
                    .into_par_iter()
                    .map(|w| match w {
                        Who::Buyer(i) => self.buyer(i),
                        Who::Other(id, m) => self.other(id, m),
                    })
                    .collect()
            })
        })
    }

    pub fn into_build(self) -> ProfileBuild {
        let mut profiles: Vec<CustomerProfile> = Vec::with_capacity(self.len());
        profiles.par_extend((0..self.buyers.len()).into_par_iter().map(|i| self.buyer(i)));
        profiles.par_extend(self.idle.par_iter().map(|(id, m)| self.other(*id, m)));
        ProfileBuild {
            as_of: self.as_of,
            population: self.population,
            key_customers_profit_share: self.key_customers_profit_share,
            profiles,
            prediction: self.prediction,
            reports: self.reports,
            phases: self.phases,
        }
    }
}
