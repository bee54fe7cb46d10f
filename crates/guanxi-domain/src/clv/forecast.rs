//! Each customer's future from fitted models: P(alive), expected purchases in the next
//! days, expected spend per purchase (Gamma-Gamma), CLV over a horizon with a discount
//! rate, and when the next purchase is expected. What a profile build stores.

use serde::{Deserialize, Serialize};

use super::{BgNbd, FitError, GammaGamma, ParetoNbd, Period, Row, Summary, Variant, group};

/// Which model predicts purchases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Bgnbd,
    Mbgnbd,
    Pnbd,
}

/// How future months are discounted in the CLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Discounting {
    /// lifetimes' convention: each month's expected purchases are paid at the month's
    /// end and discounted by (1 + rate)^month.
    Monthly,
    /// Continuous compounding at `rate` per month: each month's purchases discounted by
    /// e^(−rate · t) at the month's midpoint t.
    Continuous,
}

/// The prediction settings (`[predict]` in the settings file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Predict {
    pub model: ModelKind,
    /// The unit the model is fitted in: weeks fit as well as days and need fewer
    /// distinct rows.
    pub unit: Unit,
    /// Expected purchases are counted over the next `horizon_days`.
    pub horizon_days: u32,
    /// CLV counts this many months ahead.
    pub clv_months: u32,
    /// Discount rate per month.
    pub discount_rate: f64,
    pub discounting: Discounting,
}

/// A unit of time for the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Day,
    Week,
}

impl Unit {
    /// A month in this unit, as lifetimes counts it (30 days; 4.345 weeks), so that CLVs
    /// equal lifetimes' `customer_lifetime_value`.
    pub fn month(self) -> f64 {
        match self {
            Unit::Day => 30.0,
            Unit::Week => 4.345,
        }
    }

    pub fn period(self) -> Period {
        match self {
            Unit::Day => Period::Day,
            Unit::Week => Period::Week,
        }
    }
}

impl Default for Predict {
    fn default() -> Self {
        Predict {
            model: ModelKind::Bgnbd,
            unit: Unit::Week,
            horizon_days: 90,
            clv_months: 12,
            discount_rate: 0.01,
            discounting: Discounting::Monthly,
        }
    }
}

/// A fitted purchase model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Model {
    Bgnbd(BgNbd),
    Pnbd(ParetoNbd),
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Model::Bgnbd(m) => write!(
                f,
                "{} r {:.4}, α {:.4}, a {:.4}, b {:.4}",
                if m.variant == Variant::Bg { "BG/NBD" } else { "MBG/NBD" },
                m.r,
                m.alpha,
                m.a,
                m.b
            ),
            Model::Pnbd(m) => write!(
                f,
                "Pareto/NBD r {:.4}, α {:.4}, s {:.4}, β {:.4}",
                m.r, m.alpha, m.s, m.beta
            ),
        }
    }
}

impl Model {
    /// Fits the chosen model to grouped rows.
    pub fn fit(kind: ModelKind, rows: &[Row]) -> Result<(Model, f64), FitError> {
        Ok(match kind {
            ModelKind::Bgnbd | ModelKind::Mbgnbd => {
                let variant = if kind == ModelKind::Bgnbd {
                    Variant::Bg
                } else {
                    Variant::Mbg
                };
                let f = BgNbd::fit(variant, rows)?;
                (Model::Bgnbd(f.params), f.log_likelihood)
            }
            ModelKind::Pnbd => {
                let f = ParetoNbd::fit(rows)?;
                (Model::Pnbd(f.params), f.log_likelihood)
            }
        })
    }

    pub fn p_alive(&self, rft: super::Rft) -> f64 {
        match self {
            Model::Bgnbd(m) => m.p_alive(rft),
            Model::Pnbd(m) => m.p_alive(rft),
        }
    }

    /// Expected purchases in the next `horizon` units.
    pub fn expected_purchases(&self, horizon: f64, rft: super::Rft) -> f64 {
        match self {
            Model::Bgnbd(m) => m.expected_purchases(horizon, rft),
            Model::Pnbd(m) => m.expected_purchases(horizon, rft),
        }
    }

    /// The median time (in units) from the end of observation to the next purchase if
    /// the customer is still active: their rate is Gamma(r + x, α + T) given the history,
    /// so the wait is Lomax-distributed with median (α + T)(2^(1/(r+x)) − 1).
    pub fn median_wait(&self, rft: super::Rft) -> f64 {
        let (r, alpha) = match self {
            Model::Bgnbd(m) => (m.r, m.alpha),
            Model::Pnbd(m) => (m.r, m.alpha),
        };
        (alpha + rft.t) * ((std::f64::consts::LN_2 / (r + rft.x)).exp() - 1.0)
    }
}

/// One customer's future.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Probability the customer is still active.
    pub p_alive: f64,
    /// Expected purchases in the next `horizon_days`.
    pub expected_purchases: f64,
    pub horizon_days: u32,
    /// Expected value of a purchase (Gamma-Gamma, or the mean spend when it cannot be
    /// fitted), in yuan; `None` when nobody bought twice.
    pub expected_spend: Option<f64>,
    /// Discounted expected spend over the next `clv_months`, in yuan.
    pub clv: Option<f64>,
    /// Median days to the next purchase if still active.
    pub next_purchase_days: f64,
}

/// The models fitted for a build and what they were fitted to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    pub settings: Predict,
    pub purchases: Model,
    pub log_likelihood: f64,
    /// `None` when too few customers bought again to fit it, with the reason.
    pub spend: Option<GammaGamma>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend_error: Option<String>,
    /// The technical reason behind `spend_error` (the fit's own message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend_detail: Option<String>,
    /// Without Gamma-Gamma: the mean spend of repeat purchases over all repeat customers,
    /// used for those who have none of their own (others use their own mean — the limit
    /// Gamma-Gamma tends to when spend hardly varies within a customer, which is when its
    /// fit runs away).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_spend: Option<f64>,
    pub customers: usize,
}

impl Fitted {
    /// Fits the purchase model (and Gamma-Gamma for spend) to the customers' summaries,
    /// which must be in `settings.unit`s.
    pub fn fit<K>(settings: &Predict, customers: &[Summary<K>]) -> Result<Fitted, FitError> {
        let rows = group(customers.iter().map(|c| c.rft));
        let (purchases, log_likelihood) = Model::fit(settings.model, &rows)?;
        let spend_data: Vec<(f64, f64, f64)> = customers.iter().map(|c| (c.rft.x, c.monetary, 1.0)).collect();
        // What a shop owner reads says what was done, in plain words; the optimiser's
        // state goes to `spend_detail` (JSON) for whoever digs.
        let (spend, spend_error, spend_detail) = match GammaGamma::fit(&spend_data) {
            Ok(f) if f.params.q > 1.0 => (Some(f.params), None, None),
            Ok(f) => (
                None,
                Some("customers' spend varies too little from purchase to purchase for a spend model".to_string()),
                Some(format!(
                    "Gamma-Gamma q = {:.3} ≤ 1: the mean spend is not finite",
                    f.params.q
                )),
            ),
            Err(FitError::Empty) => (
                None,
                Some("no customer bought twice: there is no repeat spend to learn from".into()),
                None,
            ),
            Err(e) => (
                None,
                Some("the spend model found no stable fit on this shop's purchases".to_string()),
                Some(e.to_string()),
            ),
        };
        let repeat: Vec<f64> = spend_data
            .iter()
            .filter(|(x, m, _)| *x > 0.0 && *m > 0.0)
            .map(|(_, m, _)| *m)
            .collect();
        let mean_spend =
            (spend.is_none() && !repeat.is_empty()).then(|| repeat.iter().sum::<f64>() / repeat.len() as f64);
        Ok(Fitted {
            settings: settings.clone(),
            purchases,
            log_likelihood,
            spend,
            spend_error,
            spend_detail,
            mean_spend,
            customers: customers.len(),
        })
    }

    /// One customer's forecast from their summary.
    pub fn forecast<K>(&self, c: &Summary<K>) -> Forecast {
        let s = &self.settings;
        let unit_days = s.unit.period().days();
        let m = &self.purchases;
        let expected_spend = match (self.spend, self.mean_spend) {
            (Some(g), _) => Some(g.expected_spend(c.rft.x, c.monetary)),
            (None, Some(_)) if c.rft.x > 0.0 && c.monetary > 0.0 => Some(c.monetary),
            (None, mean) => mean,
        };
        let clv = expected_spend.map(|spend| {
            let month = s.unit.month();
            let mut before = 0.0;
            let mut total = 0.0;
            for k in 1..=s.clv_months {
                let k = f64::from(k);
                let cumulative = m.expected_purchases(k * month, c.rft);
                let factor = match s.discounting {
                    Discounting::Monthly => (1.0 + s.discount_rate).powf(-k),
                    Discounting::Continuous => (-s.discount_rate * (k - 0.5)).exp(),
                };
                total += spend * (cumulative - before) * factor;
                before = cumulative;
            }
            total
        });
        Forecast {
            p_alive: m.p_alive(c.rft),
            expected_purchases: m.expected_purchases(f64::from(s.horizon_days) / unit_days, c.rft),
            horizon_days: s.horizon_days,
            expected_spend,
            clv,
            next_purchase_days: m.median_wait(c.rft) * unit_days,
        }
    }
}
