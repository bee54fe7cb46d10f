//! The Gamma-Gamma model of spend (Fader, Hardie & Lee 2005, "RFM and CLV"): a customer's
//! transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; fitted on
//! customers with repeat purchases, from their number x and mean value m.

use serde::{Deserialize, Serialize};

use super::special::{digamma, ln_gamma};
use super::{FitError, minimise, std_errors};

/// Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaFit {
    pub params: GammaGamma,
    pub log_likelihood: f64,
    pub std_errors: Option<[f64; 3]>,
    pub customers: f64,
    pub iterations: u64,
}

impl GammaGamma {
    /// One customer's log-likelihood and gradient in (p, q, γ); `x` repeat purchases with
    /// mean value `m` (both > 0).
    pub fn ll_grad(&self, x: f64, m: f64) -> (f64, [f64; 3]) {
        let GammaGamma { p, q, gamma } = *self;
        let px = p * x;
        let ll = ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * gamma.ln() + (px - 1.0) * m.ln() + px * x.ln()
            - (px + q) * (gamma + m * x).ln();
        let d_p = x * (digamma(px + q) - digamma(px) + m.ln() + x.ln() - (gamma + m * x).ln());
        let d_q = digamma(px + q) - digamma(q) + gamma.ln() - (gamma + m * x).ln();
        let d_gamma = q / gamma - (px + q) / (gamma + m * x);
        (ll, [d_p, d_q, d_gamma])
    }

    /// The expected mean transaction value of a customer with `x` repeat purchases of
    /// mean value `m` (the population mean for x = 0).
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let population = p * gamma / (q - 1.0);
        let w = (q - 1.0) / (p * x + q - 1.0);
        w * population + (1.0 - w) * m
    }

    /// The maximum-likelihood fit to (x, mean value, weight) of customers with x > 0.
    pub fn fit(data: &[(f64, f64, f64)]) -> Result<GammaGammaFit, FitError> {
        let data: Vec<(f64, f64, f64)> = data.iter().copied().filter(|(x, m, _)| *x > 0.0 && *m > 0.0).collect();
        let customers: f64 = data.iter().map(|d| d.2).sum();
        if customers == 0.0 {
            return Err(FitError::Empty);
        }
        let total = |p: &GammaGamma| {
            let (mut ll, mut g) = (0.0, [0.0; 3]);
            for &(x, m, w) in &data {
                let (l, d) = p.ll_grad(x, m);
                ll += w * l;
                for k in 0..3 {
                    g[k] += w * d[k];
                }
            }
            (ll, g)
        };
        let from_logs = |t: &[f64]| GammaGamma {
            p: t[0].exp(),
            q: t[1].exp(),
            gamma: t[2].exp(),
        };
        let objective = |t: &[f64]| {
            let p = from_logs(t);
            let (ll, g) = total(&p);
            let scale = [p.p, p.q, p.gamma];
            (-ll / customers, (0..3).map(|k| -g[k] * scale[k] / customers).collect())
        };
        let optimum = minimise(vec![0.0; 3], objective)?;
        let params = from_logs(&optimum.theta);
        let log_likelihood = -optimum.value * customers;
        let se = std_errors(&optimum, customers, objective);
        let iterations = optimum.iterations;
        Ok(GammaGammaFit {
            params,
            log_likelihood,
            std_errors: se.map(|s| [s[0], s[1], s[2]]),
            customers,
            iterations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_likelihoods_slope() {
        let p = GammaGamma {
            p: 6.2,
            q: 3.7,
            gamma: 15.4,
        };
        let (_, g) = p.ll_grad(3.0, 40.0);
        let q = [p.p, p.q, p.gamma];
        for k in 0..3 {
            let h = 1e-6 * q[k];
            let (mut up, mut down) = (q, q);
            up[k] += h;
            down[k] -= h;
            let f = |v: [f64; 3]| {
                GammaGamma {
                    p: v[0],
                    q: v[1],
                    gamma: v[2],
                }
                .ll_grad(3.0, 40.0)
                .0
            };
            let numeric = (f(up) - f(down)) / (2.0 * h);
            assert!(
                (numeric - g[k]).abs() < 1e-6 * (1.0 + g[k].abs()),
                "{k}: {numeric} vs {}",
                g[k]
            );
        }
    }
}
