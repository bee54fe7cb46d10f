//! `guanxi clv fit|validate|predict`: the prediction models fitted to the shop's paid
//! orders, checked against a holdout period, and each customer's forecast.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use guanxi_analytics::Engine;
use guanxi_domain::clv::{
    BgNbd, Fitted, Forecast, GammaGamma, Model, ModelKind, ParetoNbd, Period, Predict, Summary, Unit, Validation,
    Variant, group, holdout, summary, validate,
};
use serde::Serialize;

use crate::cli::{ClvCommand, Global, ModelArg, PurchaseModelArg, UnitArg};
use crate::commands::{config, customer, default_db};
use crate::open::{Opened, open};
use crate::output::{BadInput, report};

#[derive(Serialize)]
struct FitReport {
    model: &'static str,
    unit: &'static str,
    calibration_end: NaiveDate,
    /// Customers the model was fitted to.
    customers: u64,
    /// Parameter name → its estimate and standard error, in the model's order:
    /// `{"r": {"value": 0.2426, "se": 0.0126}, …}`.
    params: Params,
    log_likelihood: f64,
    iterations: u64,
    fit_ms: f64,
}

/// An estimate and its standard error (absent when the Hessian could not give one).
#[derive(Serialize)]
struct Param {
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    se: Option<f64>,
}

/// The parameters by name, in the model's order.
type Params = crate::output::Named<Param>;

fn params(names: &[&'static str], values: &[f64], se: Option<&[f64]>) -> Params {
    crate::output::Named(
        names
            .iter()
            .zip(values)
            .enumerate()
            .map(|(k, (name, value))| {
                (
                    *name,
                    Param {
                        value: *value,
                        se: se.map(|s| s[k]),
                    },
                )
            })
            .collect(),
    )
}

#[derive(Serialize)]
struct ValidateReport {
    model: ModelKind,
    unit: Unit,
    calibration_end: NaiveDate,
    holdout_end: NaiveDate,
    fitted: Model,
    #[serde(flatten)]
    validation: Validation,
}

#[derive(Serialize)]
struct PredictReport {
    as_of: NaiveDate,
    #[serde(flatten)]
    fitted: Fitted,
    forecasts: Vec<CustomerForecast>,
}

#[derive(Serialize)]
struct CustomerForecast {
    customer: String,
    x: f64,
    t_x: f64,
    t: f64,
    mean_repeat_spend: f64,
    #[serde(flatten)]
    forecast: Forecast,
    next_purchase_on: Option<NaiveDate>,
}

fn unit(u: UnitArg) -> Unit {
    match u {
        UnitArg::Day => Unit::Day,
        UnitArg::Week => Unit::Week,
    }
}

fn kind(m: PurchaseModelArg) -> ModelKind {
    match m {
        PurchaseModelArg::Bgnbd => ModelKind::Bgnbd,
        PurchaseModelArg::Mbgnbd => ModelKind::Mbgnbd,
        PurchaseModelArg::Pnbd => ModelKind::Pnbd,
    }
}

/// The end of `date`'s day in shop time, or of the last order's day; with that day.
async fn until(
    o: &Opened,
    engine: &Engine,
    date: Option<&str>,
    flag: &str,
) -> anyhow::Result<(DateTime<Utc>, NaiveDate)> {
    let at = guanxi_app::profiles::as_of_or_last(engine, o.tz, date, flag).await?;
    Ok((at, at.with_timezone(&o.tz.0).date_naive()))
}

/// Every customer's summary of paid orders up to `until` (same-day orders merged), in
/// `unit`s.
async fn summaries(
    o: &Opened,
    engine: &Engine,
    until: DateTime<Utc>,
    end: NaiveDate,
    unit: Period,
) -> anyhow::Result<Vec<Summary<i64>>> {
    let merged = o.store.merged_into().await?;
    let purchases = guanxi_analytics::purchases(engine, until, o.tz, &merged).await?;
    Ok(summary(purchases, end, Period::Day, unit))
}

pub async fn run(global: &Global, cmd: ClvCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let engine = Engine::open(&o.lake).await?;
    let (settings, _) = config::load(global)?;
    match cmd {
        ClvCommand::Fit {
            model,
            unit: u,
            calibration_end,
        } => {
            let (at, end) = until(&o, &engine, calibration_end.as_deref(), "--calibration-end").await?;
            let customers = summaries(&o, &engine, at, end, unit(u).period()).await?;
            let fitted = fit(model, &customers, end, unit(u))?;
            report(global.json, &fitted, fit_text)
        }
        ClvCommand::Validate {
            calibration_end,
            holdout_end,
            model,
            unit: u,
        } => {
            let p = &settings.predict;
            let (model, u) = (model.map_or(p.model, kind), u.map_or(p.unit, unit));
            let (cal_at, cal_end) = until(&o, &engine, Some(&calibration_end), "--calibration-end").await?;
            let (hold_at, hold_end) = until(&o, &engine, Some(&holdout_end), "--holdout-end").await?;
            if hold_end <= cal_end {
                return Err(BadInput {
                    code: "bad_date",
                    message: format!("--holdout-end: {hold_end} is not after --calibration-end {cal_end}"),
                }
                .into());
            }
            let cal = summaries(&o, &engine, cal_at, cal_end, u.period()).await?;
            let merged = o.store.merged_into().await?;
            let later = guanxi_analytics::purchases(&engine, hold_at, o.tz, &merged).await?;
            let actual = holdout(
                &cal,
                later.into_iter().map(|(k, d, _)| (k, d)),
                cal_end,
                hold_end,
                Period::Day,
            );
            let (fitted, _) = Model::fit(model, &group(cal.iter().map(|c| c.rft)))?;
            let length = (hold_end - cal_end).num_days() as f64 / u.period().days();
            let validation = validate(&fitted, &cal, &actual, length);
            let r = ValidateReport {
                model,
                unit: u,
                calibration_end: cal_end,
                holdout_end: hold_end,
                fitted,
                validation,
            };
            report(global.json, &r, validate_text)
        }
        ClvCommand::Predict {
            as_of,
            customer: who,
            source,
            top,
            model,
            unit: u,
            horizon_days,
            months,
            discount_rate,
        } => {
            let p = &settings.predict;
            let predict = Predict {
                model: model.map_or(p.model, kind),
                unit: u.map_or(p.unit, unit),
                horizon_days: horizon_days.unwrap_or(p.horizon_days),
                clv_months: months.unwrap_or(p.clv_months),
                discount_rate: discount_rate.unwrap_or(p.discount_rate),
                discounting: p.discounting,
            };
            if !(predict.discount_rate.is_finite() && predict.discount_rate > -1.0) {
                return Err(BadInput {
                    code: "bad_rate",
                    message: format!(
                        "--discount-rate: expected a rate per month above -1 (0.01 for 1 %), found {}",
                        predict.discount_rate
                    ),
                }
                .into());
            }
            let only = match &who {
                Some(id) => Some(customer::lookup(&o, id, &customer::source(&source)?, true).await?),
                None => None,
            };
            let (at, end) = until(&o, &engine, as_of.as_deref(), "--as-of").await?;
            let customers = summaries(&o, &engine, at, end, predict.unit.period()).await?;
            let fitted = Fitted::fit(&predict, &customers)?;
            let mut chosen: Vec<(&Summary<i64>, Forecast)> = customers
                .iter()
                .filter(|c| only.is_none_or(|id| c.key == id))
                .map(|c| (c, fitted.forecast(c)))
                .collect();
            if let (Some(id), true) = (&who, chosen.is_empty()) {
                anyhow::bail!("customer {id} has no paid orders up to {end}: nothing to forecast");
            }
            chosen.sort_by(|a, b| {
                b.1.clv
                    .unwrap_or(b.1.expected_purchases)
                    .total_cmp(&a.1.clv.unwrap_or(a.1.expected_purchases))
                    .then(a.0.key.cmp(&b.0.key))
            });
            chosen.truncate(top.max(1));
            let mut forecasts = Vec::with_capacity(chosen.len());
            for (c, f) in chosen {
                let name = o
                    .store
                    .customer_by_id(c.key)
                    .await?
                    .map_or_else(|| c.key.to_string(), |r| r.key.external_id);
                forecasts.push(CustomerForecast {
                    customer: name,
                    x: c.rft.x,
                    t_x: c.rft.t_x,
                    t: c.rft.t,
                    mean_repeat_spend: c.monetary,
                    forecast: f,
                    next_purchase_on: end.checked_add_days(chrono::Days::new(f.next_purchase_days.round() as u64)),
                });
            }
            let r = PredictReport {
                as_of: end,
                fitted,
                forecasts,
            };
            report(global.json, &r, predict_text)
        }
    }
}

fn fit(model: ModelArg, customers: &[Summary<i64>], end: NaiveDate, u: Unit) -> anyhow::Result<FitReport> {
    let started = Instant::now();
    let (name, params, log_likelihood, n, iterations) = match model {
        ModelArg::Bgnbd | ModelArg::Mbgnbd => {
            let variant = if model == ModelArg::Bgnbd {
                Variant::Bg
            } else {
                Variant::Mbg
            };
            let f = BgNbd::fit(variant, &group(customers.iter().map(|c| c.rft)))?;
            let p = f.params;
            let params = params(
                &["r", "alpha", "a", "b"],
                &[p.r, p.alpha, p.a, p.b],
                f.std_errors.as_ref().map(|s| &s[..]),
            );
            let name = if variant == Variant::Bg { "bgnbd" } else { "mbgnbd" };
            (name, params, f.log_likelihood, f.customers, f.iterations)
        }
        ModelArg::Pnbd => {
            let f = ParetoNbd::fit(&group(customers.iter().map(|c| c.rft)))?;
            let p = f.params;
            let params = params(
                &["r", "alpha", "s", "beta"],
                &[p.r, p.alpha, p.s, p.beta],
                f.std_errors.as_ref().map(|s| &s[..]),
            );
            ("pnbd", params, f.log_likelihood, f.customers, f.iterations)
        }
        ModelArg::Gg => {
            let data: Vec<(f64, f64, f64)> = customers.iter().map(|c| (c.rft.x, c.monetary, 1.0)).collect();
            let f = GammaGamma::fit(&data)?;
            let p = f.params;
            let params = params(
                &["p", "q", "gamma"],
                &[p.p, p.q, p.gamma],
                f.std_errors.as_ref().map(|s| &s[..]),
            );
            ("gg", params, f.log_likelihood, f.customers, f.iterations)
        }
    };
    Ok(FitReport {
        model: name,
        unit: if u == Unit::Week { "week" } else { "day" },
        calibration_end: end,
        // Grouped rows carry weights; the count of customers is whole.
        customers: n.round() as u64,
        params,
        log_likelihood,
        iterations,
        fit_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

fn fit_text(f: &FitReport) -> String {
    let mut out = format!(
        "{} fitted to {} customers (calibration to {}, {}s) in {:.1} ms, {} iterations\n",
        f.model, f.customers, f.calibration_end, f.unit, f.fit_ms, f.iterations
    );
    for (name, p) in &f.params.0 {
        out += &format!(
            "  {name:<6} {:>10.4}{}\n",
            p.value,
            p.se.map_or(String::new(), |s| format!("  (± {s:.4})"))
        );
    }
    out += &format!("  log-likelihood {:.2}\n", f.log_likelihood);
    out
}

fn validate_text(r: &ValidateReport) -> String {
    let v = &r.validation;
    let mut out = format!(
        "{} fitted to {} customers up to {}; repeat purchases after it up to {}\n",
        r.fitted, v.customers, r.calibration_end, r.holdout_end
    );
    out += "  repeats in calibration   customers   actual mean   predicted mean\n";
    for b in &v.by_frequency {
        out += &format!(
            "  {:>22}   {:>9}   {:>11.3}   {:>14.3}\n",
            b.frequency, b.customers, b.actual_mean, b.predicted_mean
        );
    }
    out += &format!(
        "  total: actual {:.0}, predicted {:.1} ({:+.1} %); per customer MAE {:.3}, RMSE {:.3}\n",
        v.actual_total,
        v.predicted_total,
        v.total_error * 100.0,
        v.mae,
        v.rmse
    );
    out
}

fn predict_text(r: &PredictReport) -> String {
    let f = &r.fitted;
    let s = &f.settings;
    let mut out = format!(
        "forecasts as of {} ({} over {} customers; CLV over {} months at {} % a month, {:?})\n",
        r.as_of,
        f.purchases,
        f.customers,
        s.clv_months,
        s.discount_rate * 100.0,
        s.discounting
    );
    if let Some(why) = &f.spend_error {
        out += &format!("  spend: each customer's own average purchase is used, because {why}\n");
    }
    out += &format!(
        "  {:<14} {:>5} {:>8} {:>10} {:>10} {:>10}  next purchase\n",
        "customer",
        "x",
        "P(alive)",
        format!("E[{}d]", s.horizon_days),
        "spend",
        "CLV"
    );
    let money = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    for c in &r.forecasts {
        out += &format!(
            "  {:<14} {:>5} {:>8.3} {:>10.3} {:>10} {:>10}  {}\n",
            c.customer,
            c.x,
            c.forecast.p_alive,
            c.forecast.expected_purchases,
            money(c.forecast.expected_spend),
            money(c.forecast.clv),
            c.next_purchase_on.map_or("-".into(), |d| d.to_string())
        );
    }
    out
}
