//! `guanxi profile build`: every buyer's measures and classes, from the lake.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use guanxi_analytics::{Engine, ProfileBuild};
use guanxi_domain::profile::Settings;
use guanxi_domain::{ShopTz, parse_date};
use serde::Serialize;

use crate::cli::{Global, ProfileCommand};
use crate::commands::{config, default_db};
use crate::open::{Opened, open};
use crate::output::report;

/// How many customers are in each class of each kind.
#[derive(Serialize)]
pub struct Distribution {
    as_of: DateTime<Utc>,
    buyers: usize,
    shop_cycle_days: Option<f64>,
    median_profit: String,
    key_customers_profit_share: f64,
    won_back: usize,
    upgrade_potential: usize,
    classes: BTreeMap<&'static str, BTreeMap<String, usize>>,
    elapsed_ms: u64,
}

/// The end of `date` in the shop's time zone.
fn end_of_day(date: &str, tz: ShopTz) -> anyhow::Result<DateTime<Utc>> {
    let d = parse_date(date).map_err(anyhow::Error::msg).context("--as-of")?;
    let next = (d + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .context("--as-of: date out of range")?;
    let start =
        tz.0.from_local_datetime(&next)
            .earliest()
            .context("--as-of: not in the shop's time zone")?;
    Ok(start.with_timezone(&Utc) - Duration::microseconds(1))
}

fn distribution(b: &ProfileBuild, elapsed_ms: u64) -> Distribution {
    let mut classes: BTreeMap<&'static str, BTreeMap<String, usize>> = BTreeMap::new();
    let mut count = |kind: &'static str, class: Option<String>| {
        if let Some(c) = class {
            *classes.entry(kind).or_default().entry(c).or_default() += 1;
        }
    };
    for p in &b.profiles {
        let c = &p.classes;
        count("relationship", Some(c.relationship.class.to_string()));
        count("activity", c.activity.as_ref().map(|e| e.class.to_string()));
        count("lifecycle", c.lifecycle.as_ref().map(|e| e.class.to_string()));
        count("quadrant", c.quadrant.as_ref().map(|e| e.class.to_string()));
        count("pricing", c.pricing.as_ref().map(|e| e.class.to_string()));
        count("pyramid", p.tier.as_ref().map(|e| e.class.to_string()));
        count("rfm8", p.rfm.as_ref().map(|r| r.rfm8.to_string()));
        count("rfm11", p.rfm.as_ref().map(|r| r.rfm11.to_string()));
    }
    Distribution {
        as_of: b.as_of,
        buyers: b.profiles.len(),
        shop_cycle_days: b.population.shop_cycle_days,
        median_profit: b.population.median_profit.to_string(),
        key_customers_profit_share: b.key_customers_profit_share,
        won_back: b.profiles.iter().filter(|p| p.classes.won_back).count(),
        upgrade_potential: b.profiles.iter().filter(|p| p.upgrade_potential).count(),
        classes,
        elapsed_ms,
    }
}

/// Builds the profiles as of `as_of` (a date, or the last order's time) and counts them.
pub async fn build(o: &Opened, settings: &Settings, as_of: Option<&str>) -> anyhow::Result<Distribution> {
    let started = std::time::Instant::now();
    let build = profiles(o, settings, as_of).await?;
    Ok(distribution(&build, started.elapsed().as_millis() as u64))
}

/// Every buyer's profile as of `as_of` (a date, or the last order's time).
pub async fn profiles(o: &Opened, settings: &Settings, as_of: Option<&str>) -> anyhow::Result<ProfileBuild> {
    let engine = Engine::open(&o.lake).await?;
    let as_of = match as_of {
        Some(d) => end_of_day(d, o.tz)?,
        None => match engine.last_order_at().await? {
            Some(t) => t,
            None => anyhow::bail!("the lake holds no orders: import some first (guanxi import orders …)"),
        },
    };
    Ok(guanxi_analytics::build(&engine, as_of, o.tz, settings).await?)
}

/// The distribution as text.
pub fn text(d: &Distribution) -> String {
    let mut out = format!(
        "profiles of {} buyers as of {} ({} ms)\nshop purchase cycle {}, median profit {}, key customers bring {:.1}% of profit\n",
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
        let t = end_of_day("1998-06-30", ShopTz::default()).unwrap();
        assert_eq!(t.to_rfc3339(), "1998-06-30T15:59:59.999999+00:00");
        assert!(end_of_day("30/06/1998", ShopTz::default()).is_err());
    }
}
