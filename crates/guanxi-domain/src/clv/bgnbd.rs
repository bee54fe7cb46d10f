//! The BG/NBD model (Fader, Hardie & Lee 2005): purchases while alive follow a Poisson
//! process with Gamma(r, α) rates; after each purchase a customer drops out with a
//! probability drawn from Beta(a, b). The MBG/NBD variant (Batislam et al. 2007) also
//! lets a customer drop out at time zero, before any repeat purchase.

use serde::{Deserialize, Serialize};

use super::special::{digamma, hyp2f1, ln_gamma};
use super::{Distinct, FitError, Rft, Row, accumulate, minimise, negative_mean, std_errors, sum_rows};

/// Which of the two models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// BG/NBD: dropout only after a repeat purchase.
    Bg,
    /// MBG/NBD: dropout also possible before the first repeat purchase.
    Mbg,
}

/// BG/NBD (or MBG/NBD) parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub variant: Variant,
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// A fit: the parameters, the log-likelihood (in the data's units, summed over
/// customers), standard errors from the observed information, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            r_alpha: r / alpha,
            inv_a: 1.0 / a,
        }
    }

    fn ll_grad_with(&self, xt: &XTerms, rft: Rft) -> (f64, [f64; 4]) {
        let Rft { t_x, t, .. } = rft;
        let at = |v: f64| Time {
            ln: (self.alpha + v).ln(),
            inv: 1.0 / (self.alpha + v),
        };
        self.ll_grad_at(xt, at(t), at(t_x))
    }

    /// The likelihood and gradient of a row given the x terms and ln(α + T), ln(α + t_x)
    /// with their reciprocals: one exp and one ln per row.
    #[inline]
    fn ll_grad_at(&self, xt: &XTerms, t: Time, t_x: Time) -> (f64, [f64; 4]) {
        let rx = self.r + xt.x;
        let a3 = -rx * t.ln;
        if !xt.second {
            return (xt.head + a3, [xt.d_r - t.ln, xt.r_alpha - rx * t.inv, xt.d_a, xt.d_b]);
        }
        let a4 = xt.ln_odds - rx * t_x.ln;
        // ln(e^a3 + e^a4) and the two terms' shares of the sum, from one exp and one ln
        // (ln(1 + e) rather than ln_1p: the sum needs absolute, not relative, accuracy).
        let e = (-(a3 - a4).abs()).exp();
        let one_e = 1.0 + e;
        let s = a3.max(a4) + one_e.ln();
        let big = 1.0 / one_e;
        let small = e * big;
        let (w3, w4) = if a3 >= a4 { (big, small) } else { (small, big) };
        let d_r = xt.d_r - w3 * t.ln - w4 * t_x.ln;
        let d_alpha = xt.r_alpha - rx * (w3 * t.inv + w4 * t_x.inv);
        let d_a = xt.d_a + w4 * xt.inv_a;
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
        let c = a + b + x + k - 1.0;
        // ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x+k; c; z) by Euler's transformation,
        // (1−z)^(a−1) ₂F₁(c−r−x, a−1; c; z): the original series grows like (1−z)^−(r+x)
        // and overflows for frequencies in the thousands (lifetimes' NaNs); this one
        // does not.
        let f = hyp2f1(a + b + k - 1.0 - r, a - 1.0, c, z);
        let if_alive = c / (a - 1.0) * (1.0 - (1.0 - z).powf(a - 1.0) * f);
        if_alive * self.p_alive(rft)
    }

    /// The maximum-likelihood fit to grouped rows.
    pub fn fit(variant: Variant, rows: &[Row]) -> Result<BgNbdFit, FitError> {
        let customers: f64 = rows.iter().map(|r| r.weight).sum();
        if customers == 0.0 {
            return Err(FitError::Empty);
        }
        let problem = Problem::new(variant, rows);
        let optimum = minimise(start(rows), |theta| problem.value_grad(theta))?;
        Ok(BgNbdFit {
            params: BgNbd::from_logs(variant, &optimum.theta),
            log_likelihood: -optimum.value * customers,
            std_errors: std_errors(&optimum, customers, |t| problem.value_grad(t)).map(|s| [s[0], s[1], s[2], s[3]]),
            customers,
            iterations: optimum.iterations,
        })
    }
}

/// Where the optimiser starts, in log-parameters: r = 1 and α the mean T, so that the
/// start does not depend on the unit of time; a = b = 1.
fn start(rows: &[Row]) -> Vec<f64> {
    let customers: f64 = rows.iter().map(|r| r.weight).sum();
    let mean_t = rows.iter().map(|r| r.weight * r.rft.t).sum::<f64>() / customers;
    vec![0.0, mean_t.max(1e-3).ln(), 0.0, 0.0]
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
    r_alpha: f64,
    inv_a: f64,
}

/// ln(α + v) and 1/(α + v) for a time v.
#[derive(Clone, Copy)]
struct Time {
    ln: f64,
    inv: f64,
}

/// A row as the fit sees it: its times as indices into the distinct times.
struct Prepared {
    x: f64,
    t: u32,
    t_x: u32,
    weight: f64,
}

/// The negative mean log-likelihood over log-parameters: scaled by the customer count
/// so that tolerances mean the same at any size.
///
/// Rows are sorted by x, so the special functions are computed once per distinct x in a
/// chunk; shops' times are whole days or weeks, so a million customers have a few hundred
/// distinct times and their logs are taken once per evaluation, not once per row.
/// Chunks of rows run in parallel; their sums are added in order, so that a fit is the
/// same on any number of threads.
struct Problem {
    variant: Variant,
    customers: f64,
    times: Vec<f64>,
    rows: Vec<Prepared>,
}

impl Problem {
    fn new(variant: Variant, rows: &[Row]) -> Problem {
        // Distinct times by their bits: few, so a map beats sorting all of them.
        let mut times = Distinct::new();
        let mut at = |v: f64| times.id(v.to_bits(), v);
        let mut prepared: Vec<Prepared> = rows
            .iter()
            .map(|r| Prepared {
                x: r.rft.x,
                t: at(r.rft.t),
                t_x: at(r.rft.t_x),
                weight: r.weight,
            })
            .collect();
        // Rows usually come from `group`, sorted by x already.
        if !prepared.is_sorted_by(|a, b| a.x <= b.x) {
            prepared.sort_by(|a, b| a.x.total_cmp(&b.x));
        }
        Problem {
            variant,
            customers: rows.iter().map(|r| r.weight).sum(),
            times: times.values,
            rows: prepared,
        }
    }

    fn value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let p = BgNbd::from_logs(self.variant, theta);
        let times: Vec<Time> = self
            .times
            .iter()
            .map(|v| Time {
                ln: (p.alpha + v).ln(),
                inv: 1.0 / (p.alpha + v),
            })
            .collect();
        let total = sum_rows(&self.rows, |chunk| {
            let mut sum = [0.0; 5];
            let mut xt = p.x_terms(chunk[0].x);
            for row in chunk {
                if row.x != xt.x {
                    xt = p.x_terms(row.x);
                }
                let (l, d) = p.ll_grad_at(&xt, times[row.t as usize], times[row.t_x as usize]);
                accumulate(&mut sum, row.weight, l, d);
            }
            sum
        });
        negative_mean(total, [p.r, p.alpha, p.a, p.b], self.customers)
    }
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
                let f = |v: [f64; 4]| {
                    BgNbd {
                        variant,
                        r: v[0],
                        alpha: v[1],
                        a: v[2],
                        b: v[3],
                    }
                    .ll_grad(rft)
                };
                super::super::assert_slope([p.r, p.alpha, p.a, p.b], f, &format!("{variant:?} {rft:?}"));
            }
        }
    }
}
