//! `guanxi profile build`: every buyer's measures and classes, from the lake.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use guanxi_analytics::{Assembled, CustomerProfile, Engine, People, ProfileBuild, ReportsBasis};
use guanxi_domain::profile::{Settings, Standing};
use guanxi_domain::{ShopTz, parse_date};
use guanxi_store::{BuildRecord, ProfileRow};
use serde::Serialize;

use crate::cli::{Global, ProfileCommand};
use crate::commands::{config, default_db};
use crate::open::{Opened, open};
use crate::output::report;

/// How many customers are in each class of each kind.
#[derive(Serialize)]
pub struct Distribution {
    pub as_of: DateTime<Utc>,
    pub buyers: usize,
    pub shop_cycle_days: Option<f64>,
    pub median_profit: String,
    pub key_customers_profit_share: f64,
    pub won_back: usize,
    pub upgrade_potential: usize,
    pub classes: BTreeMap<&'static str, BTreeMap<String, usize>>,
    pub elapsed_ms: u64,
    /// The stored build's id and its class changes against the previous build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transitions: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_ms: Option<u64>,
    /// Where the build's time went, in seconds, by phase.
    pub phases: crate::output::Named<f64>,
    /// The prediction models of the build's forecasts, or why there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction: Option<guanxi_domain::clv::Fitted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_error: Option<String>,
}

/// The end of `date` in the shop's time zone.
/// The latest stored profile build, or an error saying how to make one.
pub async fn current_build(o: &Opened) -> anyhow::Result<BuildRecord> {
    o.store
        .latest_build()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no profiles yet: build them first (guanxi profile build)"))
}

/// The end of `date`'s day in shop time (`flag` names it in errors), or — without a date —
/// the time of the lake's last order: what every command's as-of defaults to.
pub async fn as_of_or_last(
    engine: &Engine,
    tz: ShopTz,
    date: Option<&str>,
    flag: &str,
) -> anyhow::Result<DateTime<Utc>> {
    match date {
        Some(d) => Ok(end_of_day(d, tz, flag)?),
        None => engine.last_order_at().await?.ok_or_else(empty_lake),
    }
}

/// What a report as of the last order says when there is none.
pub fn empty_lake() -> anyhow::Error {
    anyhow::anyhow!("the lake holds no orders: import some first (guanxi import orders …)")
}

/// The last microsecond of `date`'s day in shop time; a bad date is bad input naming
/// `flag`.
pub fn end_of_day(date: &str, tz: ShopTz, flag: &str) -> Result<DateTime<Utc>, crate::output::BadInput> {
    let bad = |message: String| crate::output::BadInput {
        code: "bad_date",
        message: format!("{flag}: {message}"),
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

/// The class kinds of a build's summary, in the stored row's order (`CLASS_KINDS`, where
/// the tier is called the pyramid).
const SUMMARY_KINDS: [&str; 8] = [
    "relationship",
    "activity",
    "lifecycle",
    "quadrant",
    "pricing",
    "pyramid",
    "rfm8",
    "rfm11",
];

/// The build's class counts, from its stored rows as they are made: a person who bought
/// nothing has a relationship type alone.
#[derive(Default)]
struct Counts {
    classes: BTreeMap<&'static str, BTreeMap<String, usize>>,
    buyers: usize,
    won_back: usize,
    upgrade_potential: usize,
}

impl Counts {
    fn add(&mut self, r: &ProfileRow) {
        let kinds = if r.paid_orders > 0 { SUMMARY_KINDS.len() } else { 1 };
        for (kind, class) in SUMMARY_KINDS.iter().zip(&r.classes).take(kinds) {
            if let Some(c) = class {
                let counts = self.classes.entry(kind).or_default();
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

fn distribution(b: &Assembled, counts: Counts, elapsed_ms: u64) -> Distribution {
    Distribution {
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
        phases: crate::output::Named(b.phases.clone()),
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
    details: &'a mut guanxi_lake::DetailsWriter,
    counts: Counts,
    elapsed_ms: u64,
    /// Why the rows stopped early: the store then stores nothing.
    failed: Option<anyhow::Error>,
    summary: Option<Distribution>,
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
            let mut rows = Vec::with_capacity(chunk.len());
            for p in &chunk {
                let pushed = serde_json::to_string(p)
                    .map_err(anyhow::Error::from)
                    .and_then(|d| Ok(self.details.push(p.customer_id, &d)?));
                if let Err(e) = pushed {
                    self.failed = Some(e);
                    return None;
                }
                rows.push(row(p, self.built.as_of));
            }
            self.made = rows.into_iter();
        }
    }

    fn finish(&mut self) -> Result<Option<String>, String> {
        if let Some(e) = &self.failed {
            return Err(format!("{e:#}"));
        }
        let d = distribution(self.built, std::mem::take(&mut self.counts), self.elapsed_ms);
        let summary = serde_json::to_string(&d).map_err(|e| e.to_string())?;
        self.summary = Some(d);
        Ok(Some(summary))
    }
}

/// Builds the profiles as of `as_of` (a date, or the last order's time), stores them as
/// the current build with its class changes, and counts them.
pub async fn build(o: &Opened, settings: &Settings, as_of: Option<&str>) -> anyhow::Result<Distribution> {
    let started = std::time::Instant::now();
    let built = assembled(o, settings, as_of).await?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let stored = std::time::Instant::now();
    let mut details = o.lake.details_writer()?;
    let mut rows = Rows {
        built: &built,
        chunks: built.chunks(),
        made: Vec::new().into_iter(),
        details: &mut details,
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
    let saved = o.store.save_build(&record, &mut rows).await;
    let (failed, summary) = (rows.failed.take(), rows.summary.take());
    let staged = details.finish()?;
    let (saved, mut d) = match (saved, failed, summary) {
        (Ok(saved), None, Some(d)) => (saved, d),
        (saved, failed, _) => {
            staged.discard()?;
            return Err(match (failed, saved) {
                (Some(e), _) => e,
                (None, Err(e)) => e.into(),
                (None, Ok(_)) => anyhow::anyhow!("the store stored a build without asking for its summary"),
            });
        }
    };
    staged.publish(&o.lake, saved.id)?;
    if let Some(r) = &built.reports {
        guanxi_analytics::keep_shop_reports(&o.lake, r)?;
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
pub async fn profiles(o: &Opened, settings: &Settings, as_of: Option<&str>) -> anyhow::Result<ProfileBuild> {
    Ok(assembled(o, settings, as_of).await?.into_build())
}

/// [`profiles`] up to the profiles themselves (made by [`Assembled::chunks`]).
///
/// As of the last order, the build also computes the shop's reports in the same pass
/// (kept beside the lake by [`build`], for the reports pages' first views).
async fn assembled(o: &Opened, settings: &Settings, as_of: Option<&str>) -> anyhow::Result<Assembled> {
    // Before the scan opens the files: reports kept under this version hold at most what
    // the scan read, so that an import landing meanwhile makes them stale, never wrong.
    let version = as_of.is_none().then(|| o.lake.version()).transpose()?;
    let engine = Engine::open(&o.lake).await?;
    let as_of = as_of_or_last(&engine, o.tz, as_of, "--as-of").await?;
    let read = std::time::Instant::now();
    // Four independent reads, each decoded on its own connection's thread.
    let (merged_into, standings, service, reviews) = tokio::try_join!(
        o.store.merged_into(),
        o.store.standings(),
        o.store.service_facts(),
        o.store.review_facts()
    )?;
    let person: HashMap<i64, i64> = merged_into.iter().copied().collect();
    let mut people = People {
        standings: standings
            .into_iter()
            .map(|(id, contact, tags)| (id, Standing::from_tags(contact, &tags)))
            .collect(),
        merged_into,
        ..Default::default()
    };
    for (id, f) in service {
        people
            .service
            .entry(*person.get(&id).unwrap_or(&id))
            .or_default()
            .push(f);
    }
    for (id, f) in reviews {
        people
            .reviews
            .entry(*person.get(&id).unwrap_or(&id))
            .or_default()
            .push(f);
    }
    let read = read.elapsed().as_secs_f64();
    let reports = version.map(|v| ReportsBasis::new(v, &people.merged_into, o.tz, settings.cycle.occasion_gap()));
    let mut build = guanxi_analytics::assembled(&engine, as_of, o.tz, settings, &people, reports).await?;
    build
        .phases
        .insert(0, ("customers, service records and reviews from the store", read));
    Ok(build)
}

/// The distribution as text.
pub fn text(d: &Distribution) -> String {
    let mut out = format!(
        "profiles of {} buyers as of {} (built in {} ms)\nshop purchase cycle {}, median profit {}, key customers bring {:.1}% of profit\n",
        d.buyers,
        d.as_of,
        d.elapsed_ms,
        d.shop_cycle_days
            .map(|c| format!("{c:.0} days"))
            .unwrap_or_else(|| "unknown".into()),
        d.median_profit,
        d.key_customers_profit_share * 100.0
    );
    for (kind, counts) in &d.classes {
        let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
        out += &format!("  {kind:<12} {}\n", parts.join(", "));
    }
    out += &format!(
        "  won back {}, with upgrade potential {}\n",
        d.won_back, d.upgrade_potential
    );
    match (&d.prediction, &d.prediction_error) {
        (Some(f), _) => {
            out += &format!(
                "  forecasts: {} over {} customers, CLV over {} months{}\n",
                f.purchases,
                f.customers,
                f.settings.clv_months,
                f.spend_error.as_ref().map_or(String::new(), |e| format!(
                    " (spend: each customer's own average purchase is used, because {e})"
                ))
            );
        }
        (None, Some(e)) => out += &format!("  no forecasts: {e}\n"),
        (None, None) => {}
    }
    if let (Some(id), Some(t)) = (d.build_id, d.transitions) {
        out += &format!(
            "stored as build {id} ({} ms): {t} class changes since the previous build (guanxi report movements)\n",
            d.store_ms.unwrap_or_default()
        );
    }
    out
}

pub async fn run(global: &Global, cmd: ProfileCommand) -> anyhow::Result<()> {
    let ProfileCommand::Build { as_of } = cmd;
    let (settings, _) = config::load(global)?;
    let o = open(global, default_db()).await?;
    let d = build(&o, &settings, as_of.as_deref()).await?;
    report(global.json, &d, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_is_the_end_of_the_day_in_shop_time() {
        let t = end_of_day("1998-06-30", ShopTz::default(), "--as-of").unwrap();
        assert_eq!(t.to_rfc3339(), "1998-06-30T15:59:59.999999+00:00");
        assert!(end_of_day("30/06/1998", ShopTz::default(), "--as-of").is_err());
    }
}
