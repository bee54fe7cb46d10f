//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): purchases while alive
//! are Poisson with Gamma(r, α) rates; lifetimes are exponential with Gamma(s, β) rates.
//! The likelihood follows Fader & Hardie's note, in log space: the difference of the two
//! hypergeometric terms is taken as ln(e^l1 − e^l2) = l1 + ln(1 − e^(l2 − l1)), so that
//! large frequencies do not overflow the powers.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::special::{digamma, hyp2f1_1, hyp2f1_a1, ln_gamma, log_add_exp};
use super::{Distinct, FitError, Rft, Row, accumulate, minimise, negative_mean, std_errors, sum_rows};

/// Pareto/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdFit {
    pub params: ParetoNbd,
    pub log_likelihood: f64,
    pub std_errors: Option<[f64; 4]>,
    pub customers: f64,
    pub iterations: u64,
}

impl ParetoNbd {
    fn from_logs(theta: &[f64]) -> ParetoNbd {
        ParetoNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            s: theta[2].exp(),
            beta: theta[3].exp(),
        }
    }

    /// The hypergeometric part of A0 for x purchases and a time τ (t_x or T), with its
    /// gradient in (r, α, s, β): ln ₂F₁(m, b; m+1; z) with m = r+s+x,
    /// z = (high − low)/(high + τ) and (low, high, b) = (α, β, r+x) when α < β, else
    /// (β, α, s+1); and ln(high + τ).
    fn pair(&self, x: f64, tau: f64) -> Pair {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let beta_high = alpha < beta;
        let (low, high, b) = if beta_high {
            (alpha, beta, r + x)
        } else {
            (beta, alpha, s + 1.0)
        };
        let m = r + s + x;
        let q = high + tau;
        let z = (high - low) / q;
        // ln ₂F₁ and its slopes in r and s (through m and b) and in z.
        let (p, d_r, d_s, pz) = if beta_high {
            // Euler: ₂F₁(m, r+x; m+1; z) = (1−z)^(1−r−x) ₂F₁(1, s+1; m+1; z), whose series
            // neither grows nor overflows when x is in the thousands.
            let (g, gb, gc, gz) = hyp2f1_1(s + 1.0, m + 1.0, z);
            let ln_1z = (-z).ln_1p();
            (
                (1.0 - r - x) * ln_1z + g.ln(),
                -ln_1z + gc / g,
                (gb + gc) / g,
                -(1.0 - r - x) / (1.0 - z) + gz / g,
            )
        } else {
            let (f, fa, fb, fz) = hyp2f1_a1(m, b, z);
            (f.ln(), fa / f, (fa + fb) / f, fz / f)
        };
        // ∂z/∂high = (low + τ)/q², ∂z/∂low = −1/q.
        let (d_high, d_low) = (pz * (low + tau) / (q * q), -pz / q);
        // Index of the high and low parameter in (r, α, s, β).
        let (hi, lo) = if beta_high { (3, 1) } else { (1, 3) };
        let mut dp = [d_r, 0.0, d_s, 0.0];
        dp[hi] += d_high;
        dp[lo] += d_low;
        let mut dlnq = [0.0; 4];
        dlnq[hi] = 1.0 / q;
        Pair {
            p,
            dp,
            lnq: q.ln(),
            dlnq,
        }
    }

    /// The terms that depend on x alone.
    fn x_terms(&self, x: f64) -> XTerms {
        let ParetoNbd { r, alpha, s, beta } = *self;
        XTerms {
            x,
            // ln Γ(r+x) − ln Γ(r) + r ln α + s ln β and its gradient.
            head: ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln(),
            d_head: [digamma(r + x) - digamma(r) + alpha.ln(), r / alpha, beta.ln(), s / beta],
            // ln s − ln m.
            ln_sm: s.ln() - (r + s + x).ln(),
        }
    }

    /// One customer's log-likelihood and its gradient in (r, α, s, β), from the x terms,
    /// the pairs at t_x and T, and ln(α + T), ln(β + T).
    ///
    /// ln L = head + ln(e^alive + e^died), alive = −(r+x) ln(α+T) − s ln(β+T),
    /// died = ln s − ln m + ln A0; ln A0 (Fader & Hardie's note: the integral over dropout
    /// times between t_x and T) = ln(e^l1 − e^l2) − m(ln q1 + ln q2) with
    /// l1 = ln p1 + m ln q2, l2 = ln p2 + m ln q1, taken as l1 + ln(1 − e^(l2 − l1)) so
    /// that large frequencies do not overflow.
    fn ll_grad_from(&self, xt: &XTerms, at_tx: &Pair, at_t: &Pair, time: &Time) -> (f64, [f64; 4]) {
        let ParetoNbd { r, s, .. } = *self;
        let x = xt.x;
        let m = r + s + x;
        let l1 = at_tx.p + m * at_t.lnq;
        let l2 = at_t.p + m * at_tx.lnq;
        let u = (l2 - l1).exp();
        let alive = -(r + x) * time.ln_a - s * time.ln_b;
        let d_alive = [-time.ln_a, -(r + x) * time.inv_a, -time.ln_b, -s * time.inv_b];
        if u >= 1.0 {
            // t_x = T: no time to drop out unseen; only the alive term.
            return (xt.head + alive, std::array::from_fn(|k| xt.d_head[k] + d_alive[k]));
        }
        let ln_a0 = l1 + (-u).ln_1p() - m * (at_tx.lnq + at_t.lnq);
        let died = xt.ln_sm + ln_a0;
        let total = log_add_exp(alive, died);
        let w_alive = (alive - total).exp();
        let w_died = 1.0 - w_alive;
        // d ln(e^l1 − e^l2) = (dl1 − u dl2)/(1 − u).
        let (w1, w2) = (1.0 / (1.0 - u), u / (1.0 - u));
        let dm = [1.0, 0.0, 1.0, 0.0];
        let grad = std::array::from_fn(|k| {
            let dl1 = at_tx.dp[k] + dm[k] * at_t.lnq + m * at_t.dlnq[k];
            let dl2 = at_t.dp[k] + dm[k] * at_tx.lnq + m * at_tx.dlnq[k];
            let d_a0 = w1 * dl1 - w2 * dl2 - dm[k] * (at_tx.lnq + at_t.lnq) - m * (at_tx.dlnq[k] + at_t.dlnq[k]);
            let d_died = if k == 2 { 1.0 / s } else { 0.0 } - dm[k] / m + d_a0;
            xt.d_head[k] + w_alive * d_alive[k] + w_died * d_died
        });
        (xt.head + total, grad)
    }

    fn time(&self, t: f64) -> Time {
        Time {
            ln_a: (self.alpha + t).ln(),
            ln_b: (self.beta + t).ln(),
            inv_a: 1.0 / (self.alpha + t),
            inv_b: 1.0 / (self.beta + t),
        }
    }

    /// One customer's log-likelihood and its gradient in (r, α, s, β).
    pub fn ll_grad(&self, rft: Rft) -> (f64, [f64; 4]) {
        self.ll_grad_from(
            &self.x_terms(rft.x),
            &self.pair(rft.x, rft.t_x),
            &self.pair(rft.x, rft.t),
            &self.time(rft.t),
        )
    }

    /// One customer's log-likelihood.
    pub fn ll(&self, rft: Rft) -> f64 {
        self.ll_grad(rft).0
    }

    pub fn log_likelihood(&self, rows: &[Row]) -> f64 {
        rows.iter().map(|row| row.weight * self.ll(row.rft)).sum()
    }

    /// P(alive | x, t_x, T): the alive term's share of the likelihood.
    pub fn p_alive(&self, rft: Rft) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let alive = -(r + rft.x) * (alpha + rft.t).ln() - s * (beta + rft.t).ln();
        (self.x_terms(rft.x).head + alive - self.ll(rft)).exp()
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

    /// The maximum-likelihood fit, with the analytic gradient (the series of ₂F₁ gives
    /// its derivatives too); each pass is cheap because ₂F₁ depends on a row only
    /// through (x, t_x) and (x, T), which repeat far more than whole rows do.
    pub fn fit(rows: &[Row]) -> Result<ParetoNbdFit, FitError> {
        let problem = Problem::new(rows);
        let customers = problem.customers;
        if customers == 0.0 {
            return Err(FitError::Empty);
        }
        let mean_t = rows.iter().map(|r| r.weight * r.rft.t).sum::<f64>() / customers;
        let start = vec![0.0, mean_t.max(1e-3).ln(), 0.0, mean_t.max(1e-3).ln()];
        let optimum = minimise(start, |theta| problem.value_grad(theta))?;
        let params = ParetoNbd::from_logs(&optimum.theta);
        Ok(ParetoNbdFit {
            params,
            log_likelihood: -optimum.value * customers,
            std_errors: std_errors(&optimum, customers, |theta| problem.value_grad(theta))
                .map(|s| [s[0], s[1], s[2], s[3]]),
            customers,
            iterations: optimum.iterations,
        })
    }
}

/// See [`ParetoNbd::pair`].
struct Pair {
    p: f64,
    dp: [f64; 4],
    lnq: f64,
    dlnq: [f64; 4],
}

/// See [`ParetoNbd::x_terms`].
struct XTerms {
    x: f64,
    head: f64,
    d_head: [f64; 4],
    ln_sm: f64,
}

/// ln(α + T), ln(β + T) and their slopes.
struct Time {
    ln_a: f64,
    ln_b: f64,
    inv_a: f64,
    inv_b: f64,
}

/// A row as the fit sees it: indices into the distinct x values, times and (x, time)
/// pairs.
struct Prepared {
    x: u32,
    t: u32,
    at_tx: u32,
    at_t: u32,
    weight: f64,
}

/// The negative mean log-likelihood over log-parameters, from distinct x values, times
/// and (x, time) pairs: ₂F₁ once per pair, the rest per row, rows in parallel chunks
/// summed in order.
struct Problem {
    customers: f64,
    xs: Vec<f64>,
    times: Vec<f64>,
    pairs: Vec<(u32, u32)>,
    rows: Vec<Prepared>,
}

impl Problem {
    fn new(rows: &[Row]) -> Problem {
        let (mut xs, mut times, mut pairs) = (Distinct::new(), Distinct::new(), Distinct::new());
        let prepared = rows
            .iter()
            .map(|r| {
                let x = xs.id(r.rft.x.to_bits(), r.rft.x);
                let t = times.id(r.rft.t.to_bits(), r.rft.t);
                let t_x = times.id(r.rft.t_x.to_bits(), r.rft.t_x);
                Prepared {
                    x,
                    t,
                    at_tx: pairs.id((x, t_x), (x, t_x)),
                    at_t: pairs.id((x, t), (x, t)),
                    weight: r.weight,
                }
            })
            .collect();
        Problem {
            customers: rows.iter().map(|r| r.weight).sum(),
            xs: xs.values,
            times: times.values,
            pairs: pairs.values,
            rows: prepared,
        }
    }

    fn value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let p = ParetoNbd::from_logs(theta);
        let xs: Vec<XTerms> = self.xs.iter().map(|&x| p.x_terms(x)).collect();
        let pairs: Vec<Pair> = self
            .pairs
            .par_iter()
            .map(|&(x, t)| p.pair(self.xs[x as usize], self.times[t as usize]))
            .collect();
        let times: Vec<Time> = self.times.iter().map(|&t| p.time(t)).collect();
        let total = sum_rows(&self.rows, |chunk| {
            let mut sum = [0.0; 5];
            for row in chunk {
                let (l, d) = p.ll_grad_from(
                    &xs[row.x as usize],
                    &pairs[row.at_tx as usize],
                    &pairs[row.at_t as usize],
                    &times[row.t as usize],
                );
                accumulate(&mut sum, row.weight, l, d);
            }
            sum
        });
        negative_mean(total, [p.r, p.alpha, p.s, p.beta], self.customers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_likelihoods_slope() {
        // α < β and α > β take different branches of the likelihood.
        for p in [
            ParetoNbd {
                r: 0.55,
                alpha: 10.6,
                s: 0.61,
                beta: 11.7,
            },
            ParetoNbd {
                r: 0.55,
                alpha: 30.0,
                s: 1.4,
                beta: 8.0,
            },
        ] {
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
                    x: 7.0,
                    t_x: 38.86,
                    t: 38.86,
                },
                Rft {
                    x: 400.0,
                    t_x: 70.0,
                    t: 71.0,
                },
            ] {
                let f = |v: [f64; 4]| {
                    ParetoNbd {
                        r: v[0],
                        alpha: v[1],
                        s: v[2],
                        beta: v[3],
                    }
                    .ll_grad(rft)
                };
                super::super::assert_slope([p.r, p.alpha, p.s, p.beta], f, &format!("{p:?} {rft:?}"));
            }
        }
    }
}
