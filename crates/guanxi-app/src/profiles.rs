//! The profile build: every person's measures and classes as of a moment, from the lake
//! (buyers) and the store (everyone else), stored as the current build with its class
//! changes, and the build's typed summary.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use guanxi_analytics::{Assembled, CustomerProfile, Engine, People, ProfileBuild, ReportsBasis};
use guanxi_domain::profile::{ClassKind, Settings, Standing};
use guanxi_domain::{ShopTz, parse_date};
use guanxi_store::{BuildRecord, ProfileRow, Store};
use serde::{Deserialize, Serialize};

use crate::Shop;
use crate::error::{AppError, Result};

/// What a build found: how many customers are in each class of each kind, the
/// population's figures, where the time went. Stored with the build (as JSON) and read
/// back typed ([`BuildSummary::of`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildSummary {
    pub as_of: DateTime<Utc>,
    pub buyers: usize,
    pub shop_cycle_days: Option<f64>,
    pub median_profit: String,
    pub key_customers_profit_share: f64,
    pub won_back: usize,
    pub upgrade_potential: usize,
    /// Class kind → class → customers.
    pub classes: BTreeMap<String, BTreeMap<String, usize>>,
    pub elapsed_ms: u64,
    /// The stored build's id and its class changes against the previous build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ms: Option<u64>,
    /// Where the build's time went, in seconds, by phase.
    pub phases: Phases,
    /// The prediction models of the build's forecasts, or why there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<guanxi_domain::clv::Fitted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_error: Option<String>,
}

impl BuildSummary {
    /// The summary a stored build was saved with.
    pub fn of(build: &BuildRecord) -> Result<BuildSummary> {
        serde_json::from_str(&build.summary).map_err(|e| {
            AppError::Store(guanxi_store::StoreError::Corrupt(format!(
                "build {}'s summary: {e}",
                build.id
            )))
        })
    }
}

/// Phases and their seconds in the order they ran, written as one JSON object
/// (`{"lake query to its first row": 3.3, …}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Phases(pub Vec<(String, f64)>);

impl Serialize for Phases {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, v)| (name, v)))
    }
}

impl<'de> Deserialize<'de> for Phases {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Ordered;
        impl<'de> serde::de::Visitor<'de> for Ordered {
            type Value = Phases;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of phases and their seconds")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Phases, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, f64>()? {
                    out.push(entry);
                }
                Ok(Phases(out))
            }
        }
        d.deserialize_map(Ordered)
    }
}

/// The latest stored profile build, or an error saying how to make one.
pub async fn current_build(store: &dyn Store) -> Result<BuildRecord> {
    store.latest_build().await?.ok_or_else(|| AppError::Missing {
        code: "no_build",
        message: "no profiles yet: build them first (guanxi profile build)".into(),
    })
}

/// The end of `date`'s day in shop time (`field` names the parameter in errors), or —
/// without a date — the time of the lake's last order: what every as-of defaults to.
pub async fn as_of_or_last(engine: &Engine, tz: ShopTz, date: Option<&str>, field: &str) -> Result<DateTime<Utc>> {
    match date {
        Some(d) => end_of_day(d, tz, field),
        None => engine.last_order_at().await?.ok_or_else(empty_lake),
    }
}

/// What a report as of the last order says when there is none.
pub fn empty_lake() -> AppError {
    AppError::Missing {
        code: "no_orders",
        message: "the lake holds no orders: import some first (guanxi import orders …)".into(),
    }
}

/// The last microsecond of `date`'s day in shop time; a bad date is bad input naming
/// `field` (a CLI flag, a request parameter).
pub fn end_of_day(date: &str, tz: ShopTz, field: &str) -> Result<DateTime<Utc>> {
    let bad = |message: String| AppError::BadInput {
        code: "bad_date",
        message: format!("{field}: {message}"),
    };
    let d = parse_date(date).map_err(|e| bad(e.to_string()))?;
    let next = (d + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| bad(format!("{date} is out of range")))?;
    let start =
        tz.0.from_local_datetime(&next)
            .earliest()
            .ok_or_else(|| bad(format!("{date} does not exist in the shop's time zone")))?;
    Ok(start.with_timezone(&Utc) - Duration::microseconds(1))
}

/// A class kind as a build's summary names it (the tier is called the pyramid there).
fn summary_name(kind: ClassKind) -> &'static str {
    match kind {
        ClassKind::Tier => "pyramid",
        k => k.as_str(),
    }
}
/// The build's class counts, from its stored rows as they are made: a person who bought
/// nothing has a relationship type alone.
#[derive(Default)]
struct Counts {
    classes: BTreeMap<String, BTreeMap<String, usize>>,
    buyers: usize,
    won_back: usize,
    upgrade_potential: usize,
}

impl Counts {
    fn add(&mut self, r: &ProfileRow) {
        let kinds = if r.paid_orders > 0 { ClassKind::COUNT } else { 1 };
        for (kind, class) in ClassKind::ALL
            .iter()
            .map(|k| summary_name(*k))
            .zip(&r.classes)
            .take(kinds)
        {
            if let Some(c) = class {
                let counts = match self.classes.get_mut(kind) {
                    Some(counts) => counts,
                    None => self.classes.entry(kind.to_string()).or_default(),
                };
                match counts.get_mut(c.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(c.clone(), 1);
                    }
                }
            }
        }
        self.buyers += usize::from(r.paid_orders > 0);
        self.won_back += usize::from(r.won_back);
        self.upgrade_potential += usize::from(r.upgrade_potential);
    }
}

fn summary(b: &Assembled, counts: Counts, elapsed_ms: u64) -> BuildSummary {
    BuildSummary {
        as_of: b.as_of,
        buyers: counts.buyers,
        shop_cycle_days: b.population.shop_cycle_days,
        median_profit: b.population.median_profit.to_string(),
        key_customers_profit_share: b.key_customers_profit_share,
        won_back: counts.won_back,
        upgrade_potential: counts.upgrade_potential,
        classes: counts.classes,
        elapsed_ms,
        build_id: None,
        transitions: None,
        store_ms: None,
        phases: Phases(b.phases.iter().map(|(name, s)| ((*name).to_string(), *s)).collect()),
        prediction: b.prediction.as_ref().ok().cloned(),
        prediction_error: b.prediction.as_ref().err().cloned(),
    }
}

/// A build's rows for the store, made a chunk at a time as the store reads them: each
/// chunk's details (with their explanations) go to the lake, staged until the store has
/// committed the build, and its rows to the summary's counts. A million profiles are
/// held neither as explanations nor as rows.
struct Rows<'a, C> {
    built: &'a Assembled,
    chunks: C,
    made: std::vec::IntoIter<ProfileRow>,
    /// Each chunk, once its rows are made, to the details thread (`None` once closed).
    details: Option<std::sync::mpsc::SyncSender<Vec<CustomerProfile>>>,
    /// The details thread, joined when the rows end (`None` once joined).
    written: Option<DetailsThread>,
    /// The details file, written whole, once joined.
    staged: Option<guanxi_lake::StagedDetails>,
    counts: Counts,
    elapsed_ms: u64,
    /// Why the rows stopped early: the store then stores nothing.
    failed: Option<AppError>,
    summary: Option<BuildSummary>,
}

impl<C: Iterator<Item = Vec<CustomerProfile>> + Send> guanxi_store::BuildRows for Rows<'_, C> {
    fn next_row(&mut self) -> Option<ProfileRow> {
        loop {
            if let Some(row) = self.made.next() {
                self.counts.add(&row);
                return Some(row);
            }
            if self.failed.is_some() {
                return None;
            }
            let chunk = self.chunks.next()?;
            let rows: Vec<ProfileRow> = chunk.iter().map(|p| row(p, self.built.as_of)).collect();
            let sent = self.details.as_ref().is_some_and(|d| d.send(chunk).is_ok());
            if !sent {
                // The thread stopped on an error, which its join tells.
                self.failed = Some(AppError::Details("the profile details stopped being written".into()));
                return None;
            }
            self.made = rows.into_iter();
        }
    }

    fn finish(&mut self) -> Result<Option<String>, String> {
        // The details are written whole before the store commits, or the build is not
        // stored.
        match self.join() {
            Ok(staged) => self.staged = staged,
            Err(e) => self.failed = Some(e),
        }
        if let Some(e) = &self.failed {
            return Err(e.to_string());
        }
        let d = summary(self.built, std::mem::take(&mut self.counts), self.elapsed_ms);
        let summary = serde_json::to_string(&d).map_err(|e| e.to_string())?;
        self.summary = Some(d);
        Ok(Some(summary))
    }
}

/// The thread writing a build's details: its join gives the staged file.
type DetailsThread = std::thread::JoinHandle<Result<guanxi_lake::StagedDetails>>;

impl<C> Rows<'_, C> {
    /// Closes the details thread and waits for it: the staged file (`None`: joined
    /// before), or why it could not be written — that error rather than the rows'
    /// "stopped being written".
    fn join(&mut self) -> Result<Option<guanxi_lake::StagedDetails>> {
        drop(self.details.take());
        let Some(thread) = self.written.take() else {
            return Ok(None);
        };
        let staged = thread
            .join()
            .unwrap_or_else(|_| Err(AppError::Details("the profile details' thread panicked".into())))?;
        Ok(Some(staged))
    }
}

/// Writes the build's details (each profile with its explanations, as JSON) on a thread
/// of its own, chunk after chunk, while the store writes the rows: serialising and
/// compressing the details took as long as storing the rows, one after the other on one
/// core. The join gives the staged file, or why it could not be written.
fn details_thread(
    mut writer: guanxi_lake::DetailsWriter,
) -> (std::sync::mpsc::SyncSender<Vec<CustomerProfile>>, DetailsThread) {
    // Two chunks ahead at most: the rows' side never holds more than that in waiting.
    let (sender, chunks) = std::sync::mpsc::sync_channel::<Vec<CustomerProfile>>(2);
    let thread = std::thread::spawn(move || {
        for chunk in chunks {
            for p in &chunk {
                let d = serde_json::to_string(p).map_err(|e| AppError::Details(e.to_string()))?;
                writer.push(p.customer_id, &d)?;
            }
        }
        Ok(writer.finish()?)
    });
    (sender, thread)
}

/// Builds the profiles as of `as_of` (a date, or the last order's time), stores them as
/// the current build with its class changes, and counts them.
pub async fn build(shop: Shop<'_>, settings: &Settings, as_of: Option<&str>) -> Result<BuildSummary> {
    let started = std::time::Instant::now();
    let built = assembled(shop, settings, as_of).await?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let stored = std::time::Instant::now();
    let (details, written) = details_thread(shop.lake.details_writer()?);
    let mut rows = Rows {
        built: &built,
        chunks: built.chunks(),
        made: Vec::new().into_iter(),
        details: Some(details),
        written: Some(written),
        staged: None,
        counts: Counts::default(),
        elapsed_ms,
        failed: None,
        summary: None,
    };
    let record = BuildRecord {
        id: 0,
        as_of: built.as_of,
        built_at: Utc::now(),
        customers: 0,
        transitions: 0,
        // Replaced by the rows' own summary once they are all made.
        summary: String::new(),
    };
    let saved = shop.store.save_build(&record, &mut rows).await;
    // A store that stopped before the rows' end did not join the details thread.
    let joined = rows.join();
    let (failed, summary, staged) = (rows.failed.take(), rows.summary.take(), rows.staged.take());
    let (saved, mut d, staged) = match (saved, failed, summary, staged) {
        (Ok(saved), None, Some(d), Some(staged)) => (saved, d, staged),
        (saved, failed, _, staged) => {
            // The details' own error first: the rows' failure then only says they stopped.
            let joined = match joined {
                Ok(late) => staged.or(late),
                Err(e) => return Err(e),
            };
            if let Some(staged) = joined {
                staged.discard()?;
            }
            return Err(match (failed, saved) {
                (Some(e), _) => e,
                (None, Err(e)) => e.into(),
                (None, Ok(_)) => AppError::Details("the store stored a build without asking for its summary".into()),
            });
        }
    };
    staged.publish(shop.lake, saved.id)?;
    if let Some(r) = &built.reports {
        guanxi_analytics::keep_shop_reports(shop.lake, r)?;
    }
    d.build_id = Some(saved.id);
    d.transitions = Some(saved.transitions);
    d.store_ms = Some(stored.elapsed().as_millis() as u64);
    Ok(d)
}

/// The stored form of a profile: the columns segments filter on.
pub fn row(p: &CustomerProfile, as_of: DateTime<Utc>) -> ProfileRow {
    let m = &p.measures;
    let c = &p.classes;
    let cents = |c: guanxi_domain::Cents| c.0;
    ProfileRow {
        customer_id: p.customer_id,
        classes: [
            Some(c.relationship.class.to_string()),
            c.activity.as_ref().map(|e| e.class.to_string()),
            c.lifecycle.as_ref().map(|e| e.class.to_string()),
            c.quadrant.as_ref().map(|e| e.class.to_string()),
            c.pricing.as_ref().map(|e| e.class.to_string()),
            p.tier.as_ref().map(|e| e.class.to_string()),
            p.rfm.as_ref().map(|r| r.rfm8.to_string()),
            p.rfm.as_ref().map(|r| r.rfm11.to_string()),
        ],
        r: p.rfm.as_ref().map(|r| i64::from(r.r)),
        f: p.rfm.as_ref().map(|r| i64::from(r.f)),
        m: p.rfm.as_ref().map(|r| i64::from(r.m)),
        recency_days: m.recency_days,
        paid_orders: i64::from(m.paid_orders),
        frequency: i64::from(m.window_orders),
        cycle_days: m.cycle_days,
        discount_share: m.discount_share,
        complaint_count: i64::from(m.complaints),
        praise_count: i64::from(m.praise),
        paid_amount_cents: cents(m.paid_amount),
        profit_cents: cents(m.profit),
        refunds_cents: cents(m.refunds),
        monetary_cents: cents(m.window_amount),
        won_back: c.won_back,
        upgrade_potential: p.upgrade_potential,
        first_paid_at: m.first_paid,
        last_paid_at: m.last_paid,
        p_alive: p.forecast.map(|f| f.p_alive),
        expected_purchases: p.forecast.map(|f| f.expected_purchases),
        clv_cents: p.forecast.and_then(|f| f.clv).map(|v| (v * 100.0).round() as i64),
        next_purchase_at: p
            .forecast
            .and_then(|f| Duration::try_seconds((f.next_purchase_days * 86_400.0).round() as i64))
            .and_then(|d| as_of.checked_add_signed(d)),
    }
}

/// Every person's profile as of `as_of` (a date, or the last order's time): buyers from
/// the lake, everyone else from the store, merged customers counted for their person.
pub async fn profiles(shop: Shop<'_>, settings: &Settings, as_of: Option<&str>) -> Result<ProfileBuild> {
    Ok(assembled(shop, settings, as_of).await?.into_build())
}

/// [`profiles`] up to the profiles themselves (made by [`Assembled::chunks`]).
///
/// As of the last order, the build also computes the shop's reports in the same pass
/// (kept beside the lake by [`build`], for the reports pages' first views).
async fn assembled(shop: Shop<'_>, settings: &Settings, as_of: Option<&str>) -> Result<Assembled> {
    // Before the scan opens the files: reports kept under this version hold at most what
    // the scan read, so that an import landing meanwhile makes them stale, never wrong.
    let version = as_of.is_none().then(|| shop.lake.version()).transpose()?;
    let engine = Engine::open(shop.lake).await?;
    let as_of = as_of_or_last(&engine, shop.tz, as_of, "--as-of").await?;
    let read = std::time::Instant::now();
    // Four independent reads, each decoded on its own connection's thread.
    let (merged_into, standings, service, reviews) = tokio::try_join!(
        shop.store.merged_into(),
        shop.store.standings(),
        shop.store.service_facts(),
        shop.store.review_facts()
    )?;
    let merges = guanxi_domain::Merges::new(&merged_into);
    let mut people = People {
        standings: standings
            .into_iter()
            .map(|(id, contact, tags)| (id, Standing::from_tags(contact, &tags)))
            .collect(),
        merged_into,
        ..Default::default()
    };
    for (id, f) in service {
        people.service.entry(merges.person(id)).or_default().push(f);
    }
    for (id, f) in reviews {
        people.reviews.entry(merges.person(id)).or_default().push(f);
    }
    let read = read.elapsed().as_secs_f64();
    let reports = version.map(|v| ReportsBasis::new(v, &people.merged_into, shop.tz, settings.cycle.occasion_gap()));
    let mut build = guanxi_analytics::assembled(&engine, as_of, shop.tz, settings, &people, reports).await?;
    build
        .phases
        .insert(0, ("customers, service records and reviews from the store", read));
    Ok(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_is_the_end_of_the_day_in_shop_time() {
        let t = end_of_day("1998-06-30", ShopTz::default(), "--as-of").unwrap();
        assert_eq!(t.to_rfc3339(), "1998-06-30T15:59:59.999999+00:00");
        let bad = end_of_day("30/06/1998", ShopTz::default(), "--as-of").unwrap_err();
        assert!(bad.is_bad_input() && bad.to_string().starts_with("--as-of: "), "{bad}");
    }

    #[test]
    fn a_summary_reads_back_as_it_was_written() {
        let summary = BuildSummary {
            as_of: Utc.with_ymd_and_hms(2026, 6, 30, 8, 0, 0).unwrap(),
            buyers: 2,
            shop_cycle_days: Some(63.5),
            median_profit: "17.81".into(),
            key_customers_profit_share: 0.24,
            won_back: 1,
            upgrade_potential: 0,
            classes: BTreeMap::from([("relationship".to_string(), BTreeMap::from([("loyal".to_string(), 2)]))]),
            elapsed_ms: 12,
            build_id: None,
            transitions: None,
            store_ms: None,
            phases: Phases(vec![("second".into(), 2.0), ("first".into(), 1.0)]),
            prediction: None,
            prediction_error: Some("too few customers".into()),
        };
        let text = serde_json::to_string(&summary).unwrap();
        assert!(text.contains(r#""phases":{"second":2.0,"first":1.0}"#), "{text}");
        let record = BuildRecord {
            id: 1,
            as_of: summary.as_of,
            built_at: summary.as_of,
            customers: 2,
            transitions: 0,
            summary: text,
        };
        assert_eq!(BuildSummary::of(&record).unwrap(), summary);
        let broken = BuildRecord {
            summary: "{".into(),
            ..record
        };
        assert_eq!(BuildSummary::of(&broken).unwrap_err().code(), "store_corrupt");
    }
}

/// One page of the current build's profiles, in customer id order.
#[derive(Debug, Clone)]
pub struct ProfilesPage {
    pub as_of: DateTime<Utc>,
    pub profiles: Vec<guanxi_store::ProfiledCustomer>,
    /// Where the next page starts, when there may be one.
    pub next_after: Option<i64>,
}

/// The profiles of the current build with a customer id above `after`, at most `limit`
/// (1 to 1,000), each with the customer's record; `no_build` before the first build.
pub async fn page(store: &dyn Store, after: i64, limit: u32) -> Result<ProfilesPage> {
    let as_of = current_build(store).await?.as_of;
    let limit = limit.clamp(1, 1000);
    let profiles = store.profiled_customers(None, as_of, after, limit).await?;
    let next_after = (profiles.len() as u32 == limit)
        .then(|| profiles.last().map(|p| p.id))
        .flatten();
    Ok(ProfilesPage {
        as_of,
        profiles,
        next_after,
    })
}
