//! `guanxi profile build`: the use case is `guanxi_app::profiles`; this prints it.

use guanxi_app::profiles::{self, BuildSummary};

use crate::cli::{Global, ProfileCommand};
use crate::commands::{config, default_db};
use crate::open::open;
use crate::output::report;

/// The build's summary as text.
pub fn text(d: &BuildSummary) -> String {
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
    let d = profiles::build(o.shop(), &settings, as_of.as_deref()).await?;
    report(global.json, &d, text)
}
