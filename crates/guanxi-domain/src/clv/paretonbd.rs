//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): purchases while alive
//! are Poisson with Gamma(r, α) rates; lifetimes are exponential with Gamma(s, β) rates.
//! The likelihood follows Fader & Hardie's note, in log space: the difference of the two
//! hypergeometric terms is taken as ln(e^l1 − e^l2) = l1 + ln(1 − e^(l2 − l1)), so that
//! large frequencies do not overflow the powers.

use serde::Serialize;

use super::special::{hyp2f1, ln_gamma, log_add_exp};
use super::{FitError, Rft, Row, minimise, std_errors};

/// Pareto/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoNbdFit {
    pub params: ParetoNbd,
    pub log_likelihood: f64,
    pub std_errors: Option<[f64; 4]>,
    pub customers: f64,
    pub iterations: u64,
}

impl ParetoNbd {
    fn from_array(v: &[f64]) -> ParetoNbd {
        ParetoNbd {
            r: v[0],
            alpha: v[1],
            s: v[2],
            beta: v[3],
        }
    }

    /// ln A0 of Fader & Hardie's note (the integral over dropout times before T).
    fn ln_a0(&self, rft: Rft) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let Rft { x, t_x, t } = rft;
        let (low, high, b) = if alpha < beta {
            (alpha, beta, r + x)
        } else {
            (beta, alpha, s + 1.0)
        };
        let rsx = r + s + x;
        let (q1, q2) = (high + t_x, high + t);
        let p1 = hyp2f1(rsx, b, rsx + 1.0, (high - low) / q1);
        let p2 = hyp2f1(rsx, b, rsx + 1.0, (high - low) / q2);
        let l1 = p1.ln() + rsx * q2.ln();
        let l2 = p2.ln() + rsx * q1.ln();
        l1 + (-(l2 - l1).exp()).ln_1p() - rsx * (q1.ln() + q2.ln())
    }

    /// One customer's log-likelihood.
    pub fn ll(&self, rft: Rft) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let Rft { x, t, .. } = rft;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        let died = s.ln() - (r + s + x).ln() + self.ln_a0(rft);
        a1 + log_add_exp(alive, died)
    }

    pub fn log_likelihood(&self, rows: &[Row]) -> f64 {
        rows.iter().map(|row| row.weight * self.ll(row.rft)).sum()
    }

    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, rft: Rft) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let Rft { x, t, .. } = rft;
        let ln_alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        let ln_total = log_add_exp(ln_alive, s.ln() - (r + s + x).ln() + self.ln_a0(rft));
        (ln_alive - ln_total).exp()
    }

    /// Expected purchases in the next `horizon` (same units), given the history:
    /// (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] · P(alive), with the
    /// limit ln((β+T+t)/(β+T)) in place of the bracket over (s−1) as s → 1.
    pub fn expected_purchases(&self, horizon: f64, rft: Rft) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let Rft { x, t, .. } = rft;
        let ln_q = ((beta + t) / (beta + t + horizon)).ln();
        let k = s - 1.0;
        let bracket = if k.abs() < 1e-9 {
            -ln_q
        } else {
            -(k * ln_q).exp_m1() / k
        };
        (r + x) * (beta + t) / (alpha + t) * bracket * self.p_alive(rft)
    }

    /// The maximum-likelihood fit. The gradient is by central differences in the
    /// log-parameters (an analytic one needs derivatives of ₂F₁ in its parameters).
    pub fn fit(rows: &[Row]) -> Result<ParetoNbdFit, FitError> {
        let customers: f64 = rows.iter().map(|r| r.weight).sum();
        if customers == 0.0 {
            return Err(FitError::Empty);
        }
        let value = |theta: &[f64]| {
            let p = ParetoNbd::from_array(&theta.iter().map(|t| t.exp()).collect::<Vec<_>>());
            -p.log_likelihood(rows) / customers
        };
        let objective = |theta: &[f64]| {
            let v = value(theta);
            let g = (0..4)
                .map(|k| {
                    let h = 1e-6;
                    let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
                    up[k] += h;
                    down[k] -= h;
                    (value(&up) - value(&down)) / (2.0 * h)
                })
                .collect();
            (v, g)
        };
        let optimum = minimise(vec![0.0; 4], objective)?;
        let params = ParetoNbd::from_array(&optimum.theta.iter().map(|t| t.exp()).collect::<Vec<_>>());
        let log_likelihood = -optimum.value * customers;
        let se = std_errors(&optimum, customers, objective);
        let iterations = optimum.iterations;
        Ok(ParetoNbdFit {
            params,
            log_likelihood,
            std_errors: se.map(|s| [s[0], s[1], s[2], s[3]]),
            customers,
            iterations,
        })
    }
}
