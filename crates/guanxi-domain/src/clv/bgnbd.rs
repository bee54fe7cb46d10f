//! The BG/NBD model (Fader, Hardie & Lee 2005): purchases while alive follow a Poisson
//! process with Gamma(r, α) rates; after each purchase a customer drops out with a
//! probability drawn from Beta(a, b). The MBG/NBD variant (Batislam et al. 2007) also
//! lets a customer drop out at time zero, before any repeat purchase.

use serde::Serialize;

use super::special::{digamma, hyp2f1, ln_gamma, log_add_exp};
use super::{FitError, Rft, Row, minimise};

/// Which of the two models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// BG/NBD: dropout only after a repeat purchase.
    Bg,
    /// MBG/NBD: dropout also possible before the first repeat purchase.
    Mbg,
}

/// BG/NBD (or MBG/NBD) parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BgNbd {
    pub variant: Variant,
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// A fit: the parameters, the log-likelihood (in the data's units, summed over
/// customers), standard errors from the observed information, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgNbdFit {
    pub params: BgNbd,
    pub log_likelihood: f64,
    /// Standard errors of r, α, a, b; `None` when the Hessian is not invertible.
    pub std_errors: Option<[f64; 4]>,
    pub customers: f64,
    pub iterations: u64,
}

impl BgNbd {
    fn from_logs(variant: Variant, theta: &[f64]) -> BgNbd {
        BgNbd {
            variant,
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        }
    }

    /// One customer's log-likelihood and its gradient with respect to (r, α, a, b).
    ///
    /// ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x+k)/B(a, b)
    ///        + ln[(α+T)^−(r+x) + [x > 0 or MBG] a/(b+x+k−1) (α+t_x)^−(r+x)]
    /// with k = 0 for BG/NBD and 1 for MBG/NBD.
    pub fn ll_grad(&self, rft: Rft) -> (f64, [f64; 4]) {
        self.ll_grad_with(&self.x_terms(rft.x), rft)
    }

    /// The terms of the likelihood and its gradient that depend on x but not on the
    /// times: the special functions, computed once per distinct x in a fit.
    fn x_terms(&self, x: f64) -> XTerms {
        let BgNbd {
            variant,
            r,
            alpha,
            a,
            b,
        } = *self;
        let k = if variant == Variant::Mbg { 1.0 } else { 0.0 };
        let second = x > 0.0 || variant == Variant::Mbg;
        let psi_ab = digamma(a + b);
        let psi_abx = digamma(a + b + x + k);
        XTerms {
            x,
            second,
            head: ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) + ln_gamma(b + x + k)
                - ln_gamma(b)
                - ln_gamma(a + b + x + k),
            ln_odds: if second {
                a.ln() - (b + x + k - 1.0).ln()
            } else {
                f64::NEG_INFINITY
            },
            d_r: digamma(r + x) - digamma(r) + alpha.ln(),
            d_a: psi_ab - psi_abx,
            d_b: psi_ab + digamma(b + x + k) - digamma(b) - psi_abx,
            inv_bx: if second { 1.0 / (b + x + k - 1.0) } else { 0.0 },
        }
    }

    fn ll_grad_with(&self, xt: &XTerms, rft: Rft) -> (f64, [f64; 4]) {
        let BgNbd { r, alpha, a, .. } = *self;
        let Rft { x, t_x, t } = rft;
        let (ln_t, ln_tx) = ((alpha + t).ln(), (alpha + t_x).ln());
        let a3 = -(r + x) * ln_t;
        let a4 = if xt.second {
            xt.ln_odds - (r + x) * ln_tx
        } else {
            f64::NEG_INFINITY
        };
        let s = log_add_exp(a3, a4);
        let (w3, w4) = ((a3 - s).exp(), if xt.second { (a4 - s).exp() } else { 0.0 });
        let d_r = xt.d_r - w3 * ln_t - w4 * ln_tx;
        let d_alpha = r / alpha - w3 * (r + x) / (alpha + t) - w4 * (r + x) / (alpha + t_x);
        let d_a = xt.d_a + w4 / a;
        let d_b = xt.d_b - w4 * xt.inv_bx;
        (xt.head + s, [d_r, d_alpha, d_a, d_b])
    }

    /// The log-likelihood of grouped rows.
    pub fn log_likelihood(&self, rows: &[Row]) -> f64 {
        rows.iter().map(|row| row.weight * self.ll_grad(row.rft).0).sum()
    }

    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, rft: Rft) -> f64 {
        let BgNbd {
            variant,
            r,
            alpha,
            a,
            b,
        } = *self;
        let k = match variant {
            Variant::Bg if rft.x == 0.0 => return 1.0,
            Variant::Bg => 0.0,
            Variant::Mbg => 1.0,
        };
        let ln_odds = a.ln() - (b + rft.x + k - 1.0).ln() + (r + rft.x) * ((alpha + rft.t) / (alpha + rft.t_x)).ln();
        1.0 / (1.0 + ln_odds.exp())
    }

    /// Expected purchases in the next `horizon` (same units), given the history: the
    /// expectation if alive, times P(alive).
    pub fn expected_purchases(&self, horizon: f64, rft: Rft) -> f64 {
        let BgNbd {
            variant,
            r,
            alpha,
            a,
            b,
        } = *self;
        let Rft { x, t, .. } = rft;
        let k = if variant == Variant::Mbg { 1.0 } else { 0.0 };
        let z = horizon / (alpha + t + horizon);
        let f = hyp2f1(r + x, b + x + k, a + b + x + k - 1.0, z);
        let if_alive =
            (a + b + x + k - 1.0) / (a - 1.0) * (1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x) * f);
        if_alive * self.p_alive(rft)
    }

    /// The maximum-likelihood fit to grouped rows.
    pub fn fit(variant: Variant, rows: &[Row]) -> Result<BgNbdFit, FitError> {
        let customers: f64 = rows.iter().map(|r| r.weight).sum();
        if customers == 0.0 {
            return Err(FitError::Empty);
        }
        let problem = Problem {
            variant,
            rows,
            customers,
        };
        let (theta, iterations) = minimise(4, |theta| problem.value_grad(theta))?;
        let params = BgNbd::from_logs(variant, &theta);
        let log_likelihood = params.log_likelihood(rows);
        if !log_likelihood.is_finite() || theta.iter().any(|t| !t.is_finite()) {
            return Err(FitError::NotConverged(format!("non-finite result {params:?}")));
        }
        Ok(BgNbdFit {
            params,
            log_likelihood,
            std_errors: std_errors(&params, rows),
            customers,
            iterations,
        })
    }
}

/// See [`BgNbd::x_terms`].
struct XTerms {
    x: f64,
    /// Whether the second (dropped-out-after-t_x) term exists.
    second: bool,
    head: f64,
    ln_odds: f64,
    d_r: f64,
    d_a: f64,
    d_b: f64,
    inv_bx: f64,
}

/// The negative mean log-likelihood over log-parameters: scaled by the customer count
/// so that tolerances mean the same at any size.
struct Problem<'a> {
    variant: Variant,
    rows: &'a [Row],
    customers: f64,
}

impl Problem<'_> {
    fn value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let p = BgNbd::from_logs(self.variant, theta);
        let scale = [p.r, p.alpha, p.a, p.b];
        let (mut ll, mut g) = (0.0, [0.0; 4]);
        // Rows come grouped and sorted by x: the special functions once per distinct x.
        let mut xt = p.x_terms(self.rows.first().map_or(0.0, |r| r.rft.x));
        for row in self.rows {
            if row.rft.x != xt.x {
                xt = p.x_terms(row.rft.x);
            }
            let (l, d) = p.ll_grad_with(&xt, row.rft);
            ll += row.weight * l;
            for k in 0..4 {
                // Chain rule through the logs: ∂/∂ln θ = θ ∂/∂θ.
                g[k] += row.weight * d[k] * scale[k];
            }
        }
        (-ll / self.customers, g.iter().map(|v| -v / self.customers).collect())
    }
}

/// Standard errors of r, α, a, b.
fn std_errors(p: &BgNbd, rows: &[Row]) -> Option<[f64; 4]> {
    let se = super::std_errors(&[p.r, p.alpha, p.a, p.b], |q| {
        let m = BgNbd {
            variant: p.variant,
            r: q[0],
            alpha: q[1],
            a: q[2],
            b: q[3],
        };
        let mut g = vec![0.0; 4];
        for row in rows {
            let d = m.ll_grad(row.rft).1;
            for k in 0..4 {
                g[k] += row.weight * d[k];
            }
        }
        g
    })?;
    Some([se[0], se[1], se[2], se[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_likelihoods_slope() {
        for variant in [Variant::Bg, Variant::Mbg] {
            let p = BgNbd {
                variant,
                r: 0.24,
                alpha: 4.4,
                a: 0.79,
                b: 2.4,
            };
            for rft in [
                Rft {
                    x: 0.0,
                    t_x: 0.0,
                    t: 38.0,
                },
                Rft {
                    x: 2.0,
                    t_x: 30.43,
                    t: 38.86,
                },
                Rft {
                    x: 1500.0,
                    t_x: 70.0,
                    t: 71.0,
                },
            ] {
                let (_, g) = p.ll_grad(rft);
                let q = [p.r, p.alpha, p.a, p.b];
                for k in 0..4 {
                    let h = 1e-6 * q[k];
                    let (mut up, mut down) = (q, q);
                    up[k] += h;
                    down[k] -= h;
                    let f = |v: [f64; 4]| {
                        BgNbd {
                            variant,
                            r: v[0],
                            alpha: v[1],
                            a: v[2],
                            b: v[3],
                        }
                        .ll_grad(rft)
                        .0
                    };
                    let numeric = (f(up) - f(down)) / (2.0 * h);
                    assert!(
                        (numeric - g[k]).abs() < 1e-5 * (1.0 + g[k].abs()),
                        "{rft:?} {k}: {numeric} vs {}",
                        g[k]
                    );
                }
            }
        }
    }
}
