//! `guanxi clv fit`: the prediction models fitted to the shop's paid orders.

use std::time::Instant;

use anyhow::Context as _;
use guanxi_analytics::Engine;
use guanxi_domain::clv::{BgNbd, GammaGamma, ParetoNbd, Period, Variant, group, summary};
use serde::Serialize;

use crate::cli::{ClvCommand, Global, ModelArg, UnitArg};
use crate::commands::{default_db, profile};
use crate::open::open;
use crate::output::report;

#[derive(Serialize)]
struct Fitted {
    model: &'static str,
    unit: &'static str,
    calibration_end: chrono::NaiveDate,
    customers: f64,
    /// Parameter name → (estimate, standard error).
    params: Vec<(&'static str, f64, Option<f64>)>,
    log_likelihood: f64,
    iterations: u64,
    fit_ms: f64,
}

pub async fn run(global: &Global, cmd: ClvCommand) -> anyhow::Result<()> {
    let ClvCommand::Fit {
        model,
        unit,
        calibration_end,
    } = cmd;
    let o = open(global, default_db()).await?;
    let engine = Engine::open(&o.lake).await?;
    let until = match &calibration_end {
        Some(d) => profile::end_of_day(d, o.tz)?,
        None => engine
            .last_order_at()
            .await?
            .context("the lake holds no orders: import some first")?,
    };
    let end = until.with_timezone(&o.tz.0).date_naive();
    let merged = o.store.merged_into().await?;
    let purchases = guanxi_analytics::purchases(&engine, until, o.tz, &merged).await?;
    let period = match unit {
        UnitArg::Day => Period::Day,
        UnitArg::Week => Period::Week,
    };
    let customers = summary(purchases, end, Period::Day, period);
    let started = Instant::now();
    let se = |s: Option<[f64; 4]>, k: usize| s.map(|s| s[k]);
    let (name, params, log_likelihood, n, iterations) = match model {
        ModelArg::Bgnbd | ModelArg::Mbgnbd => {
            let variant = if model == ModelArg::Bgnbd {
                Variant::Bg
            } else {
                Variant::Mbg
            };
            let f = BgNbd::fit(variant, &group(customers.iter().map(|c| c.rft)))?;
            let p = f.params;
            let names = ["r", "alpha", "a", "b"];
            let values = [p.r, p.alpha, p.a, p.b];
            let params = (0..4).map(|k| (names[k], values[k], se(f.std_errors, k))).collect();
            let name = if variant == Variant::Bg { "bgnbd" } else { "mbgnbd" };
            (name, params, f.log_likelihood, f.customers, f.iterations)
        }
        ModelArg::Pnbd => {
            let f = ParetoNbd::fit(&group(customers.iter().map(|c| c.rft)))?;
            let p = f.params;
            let names = ["r", "alpha", "s", "beta"];
            let values = [p.r, p.alpha, p.s, p.beta];
            let params = (0..4).map(|k| (names[k], values[k], se(f.std_errors, k))).collect();
            ("pnbd", params, f.log_likelihood, f.customers, f.iterations)
        }
        ModelArg::Gg => {
            let data: Vec<(f64, f64, f64)> = customers.iter().map(|c| (c.rft.x, c.monetary, 1.0)).collect();
            let f = GammaGamma::fit(&data)?;
            let p = f.params;
            let names = ["p", "q", "gamma"];
            let values = [p.p, p.q, p.gamma];
            let params = (0..3)
                .map(|k| (names[k], values[k], f.std_errors.map(|s| s[k])))
                .collect();
            ("gg", params, f.log_likelihood, f.customers, f.iterations)
        }
    };
    let fitted = Fitted {
        model: name,
        unit: if period == Period::Week { "week" } else { "day" },
        calibration_end: end,
        customers: n,
        params,
        log_likelihood,
        iterations,
        fit_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    report(global.json, &fitted, |f| {
        let mut out = format!(
            "{} fitted to {} customers (calibration to {}, {}s) in {:.1} ms, {} iterations\n",
            f.model, f.customers, f.calibration_end, f.unit, f.fit_ms, f.iterations
        );
        for (name, v, se) in &f.params {
            out += &format!(
                "  {name:<6} {v:>10.4}{}\n",
                se.map_or(String::new(), |s| format!("  (± {s:.4})"))
            );
        }
        out += &format!("  log-likelihood {:.2}\n", f.log_likelihood);
        out
    })
}
