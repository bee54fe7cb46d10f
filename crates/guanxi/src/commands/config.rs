//! `guanxi config`: the settings file, with every threshold of the customer classes.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use guanxi_domain::profile::Settings;

use crate::cli::{ConfigCommand, Global};

/// The settings file used when --config is not given, if it exists.
const DEFAULT_CONFIG: &str = "guanxi.toml";

/// Loads the settings: the file's values over the defaults. A missing default file means
/// the defaults; a missing file named on the command line is an error.
pub fn load(global: &Global) -> anyhow::Result<(Settings, Option<PathBuf>)> {
    let (path, named) = match &global.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    if !named && !path.exists() {
        return Ok((Settings::default(), None));
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((parse(&text, &path)?, Some(path)))
}

/// Parses settings; errors name the file, line and column, and what was expected.
pub fn parse(text: &str, path: &Path) -> anyhow::Result<Settings> {
    let settings: Settings = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{}:{line}:{column}: ", path.display())
            })
            .unwrap_or_else(|| format!("{}: ", path.display()));
        anyhow::anyhow!("{at}{}", e.message())
    })?;
    settings
        .check()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(settings)
}

pub fn run(global: &Global, cmd: ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Show = cmd;
    let (settings, from) = load(global)?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&settings)?);
    } else {
        match from {
            Some(p) => println!("# settings from {} over the defaults", p.display()),
            None => println!("# the defaults (no guanxi.toml here; --config FILE to use one)"),
        }
        print!("{}", toml::to_string(&settings)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults() {
        let s = parse(
            "[churn]\nmin_days = 180\n[rfm]\nthreshold = \"median\"\ncomparison = \">=\"\n",
            Path::new("g.toml"),
        )
        .unwrap();
        assert_eq!(s.churn.min_days, 180);
        assert_eq!(s.churn.cycle_multiple, 3.0, "unset keys keep their defaults");
        assert_eq!(s.rfm.threshold, guanxi_domain::profile::settings::Threshold::Median);
    }

    #[test]
    fn a_tier_benefit_needs_its_coupon_defined() {
        let e = parse(
            "[coupons.WELCOME10]\ntitle = \"新客立减\"\nvalue_cents = 1000\n",
            Path::new("g.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("g.toml: [tiers] level \"金卡\" (free_shipping): no coupon \"FREE-SHIPPING\" is defined: expected one of WELCOME10"),
            "{e}"
        );
        let ok = "[coupons.FREE-SHIPPING]\ntitle = \"包邮\"\nkind = \"free-shipping\"\nvalue_cents = 800\n\
                  [coupons.BIRTHDAY]\ntitle = \"生日\"\nvalue_cents = 2000\n";
        assert_eq!(parse(ok, Path::new("g.toml")).unwrap().coupons.0.len(), 2);
    }

    #[test]
    fn mistakes_are_located() {
        let e = parse("[churn]\nmin_dayz = 180\n", Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("g.toml:2:1: unknown field `min_dayz`"), "{e}");
        let e = parse("[loyal]\nmin_orders = \"four\"\n", Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("g.toml:2:14: "), "{e}");
    }

    #[test]
    fn the_defaults_round_trip_through_toml() {
        let text = toml::to_string(&Settings::default()).unwrap();
        assert_eq!(parse(&text, Path::new("x")).unwrap(), Settings::default());
    }
}
