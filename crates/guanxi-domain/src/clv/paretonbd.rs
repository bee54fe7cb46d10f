//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): purchases while alive
//! are Poisson with Gamma(r, α) rates; lifetimes are exponential with Gamma(s, β) rates.
//! The likelihood follows Fader & Hardie's note, in log space: the difference of the two
//! hypergeometric terms is taken as ln(e^l1 − e^l2) = l1 + ln(1 − e^(l2 − l1)), so that
//! large frequencies do not overflow the powers.

use std::collections::HashMap;

use rayon::prelude::*;
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
    fn from_logs(theta: &[f64]) -> ParetoNbd {
        ParetoNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            s: theta[2].exp(),
            beta: theta[3].exp(),
        }
    }

    /// The hypergeometric part of A0 for x purchases and a time τ (t_x or T):
    /// ln ₂F₁(r+s+x, b; r+s+x+1; (high − low)/(high + τ)) with (low, high, b) =
    /// (α, β, r+x) when α < β, else (β, α, s+1); and ln(high + τ).
    fn ln_hyp(&self, x: f64, tau: f64) -> (f64, f64) {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (low, high, b) = if alpha < beta {
            (alpha, beta, r + x)
        } else {
            (beta, alpha, s + 1.0)
        };
        let rsx = r + s + x;
        let q = high + tau;
        (hyp2f1(rsx, b, rsx + 1.0, (high - low) / q).ln(), q.ln())
    }

    /// One customer's log-likelihood from the hypergeometric parts at t_x and T
    /// ([`Self::ln_hyp`]) and ln(α + T), ln(β + T). ln A0 (Fader & Hardie's note: the
    /// integral over dropout times between t_x and T) is
    /// ln(p1/q1^m − p2/q2^m) with m = r+s+x, taken as l1 + ln(1 − e^(l2 − l1)) − m(ln q1 + ln q2).
    fn ll_from(&self, x: f64, head: f64, at_tx: (f64, f64), at_t: (f64, f64), ln_at: f64, ln_bt: f64) -> f64 {
        let ParetoNbd { r, s, .. } = *self;
        let rsx = r + s + x;
        let ((ln_p1, ln_q1), (ln_p2, ln_q2)) = (at_tx, at_t);
        let l1 = ln_p1 + rsx * ln_q2;
        let l2 = ln_p2 + rsx * ln_q1;
        let ln_a0 = l1 + (-(l2 - l1).exp()).ln_1p() - rsx * (ln_q1 + ln_q2);
        let alive = -(r + x) * ln_at - s * ln_bt;
        let died = s.ln() - rsx.ln() + ln_a0;
        head + log_add_exp(alive, died)
    }

    /// The terms that depend on x alone: ln Γ(r+x) − ln Γ(r) + r ln α + s ln β.
    fn head(&self, x: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
    }

    /// One customer's log-likelihood.
    pub fn ll(&self, rft: Rft) -> f64 {
        self.ll_from(
            rft.x,
            self.head(rft.x),
            self.ln_hyp(rft.x, rft.t_x),
            self.ln_hyp(rft.x, rft.t),
            (self.alpha + rft.t).ln(),
            (self.beta + rft.t).ln(),
        )
    }

    pub fn log_likelihood(&self, rows: &[Row]) -> f64 {
        rows.iter().map(|row| row.weight * self.ll(row.rft)).sum()
    }

    /// P(alive | x, t_x, T): the alive term's share of the likelihood.
    pub fn p_alive(&self, rft: Rft) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let alive = -(r + rft.x) * (alpha + rft.t).ln() - s * (beta + rft.t).ln();
        (self.head(rft.x) + alive - self.ll(rft)).exp()
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
    /// log-parameters (an analytic one needs derivatives of ₂F₁ in its parameters); each
    /// pass is cheap because ₂F₁ depends on the row only through (x, t_x) and (x, T),
    /// which repeat far more than whole rows do.
    pub fn fit(rows: &[Row]) -> Result<ParetoNbdFit, FitError> {
        let problem = Problem::new(rows);
        let customers = problem.customers;
        if customers == 0.0 {
            return Err(FitError::Empty);
        }
        let objective = |theta: &[f64]| {
            let g = (0..4)
                .map(|k| {
                    let h = 1e-6;
                    let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
                    up[k] += h;
                    down[k] -= h;
                    (problem.value(&up) - problem.value(&down)) / (2.0 * h)
                })
                .collect();
            (problem.value(theta), g)
        };
        let mean_t = rows.iter().map(|r| r.weight * r.rft.t).sum::<f64>() / customers;
        let start = vec![0.0, mean_t.max(1e-3).ln(), 0.0, mean_t.max(1e-3).ln()];
        let optimum = minimise(start, objective)?;
        let params = ParetoNbd::from_logs(&optimum.theta);
        Ok(ParetoNbdFit {
            params,
            log_likelihood: -optimum.value * customers,
            std_errors: std_errors(&optimum, customers, objective).map(|s| [s[0], s[1], s[2], s[3]]),
            customers,
            iterations: optimum.iterations,
        })
    }
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
        fn intern<K: std::hash::Hash + Eq + Copy, V>(map: &mut HashMap<K, u32>, out: &mut Vec<V>, k: K, v: V) -> u32 {
            *map.entry(k).or_insert_with(|| {
                out.push(v);
                (out.len() - 1) as u32
            })
        }
        let (mut xs, mut times, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
        let (mut x_at, mut t_at, mut pair_at) = (HashMap::new(), HashMap::new(), HashMap::new());
        let prepared = rows
            .iter()
            .map(|r| {
                let x = intern(&mut x_at, &mut xs, r.rft.x.to_bits(), r.rft.x);
                let t = intern(&mut t_at, &mut times, r.rft.t.to_bits(), r.rft.t);
                let t_x = intern(&mut t_at, &mut times, r.rft.t_x.to_bits(), r.rft.t_x);
                Prepared {
                    x,
                    t,
                    at_tx: intern(&mut pair_at, &mut pairs, (x, t_x), (x, t_x)),
                    at_t: intern(&mut pair_at, &mut pairs, (x, t), (x, t)),
                    weight: r.weight,
                }
            })
            .collect();
        Problem {
            customers: rows.iter().map(|r| r.weight).sum(),
            xs,
            times,
            pairs,
            rows: prepared,
        }
    }

    fn value(&self, theta: &[f64]) -> f64 {
        let p = ParetoNbd::from_logs(theta);
        let heads: Vec<f64> = self.xs.iter().map(|&x| p.head(x)).collect();
        let hyp: Vec<(f64, f64)> = self
            .pairs
            .par_iter()
            .map(|&(x, t)| p.ln_hyp(self.xs[x as usize], self.times[t as usize]))
            .collect();
        let logs: Vec<(f64, f64)> = self
            .times
            .iter()
            .map(|v| ((p.alpha + v).ln(), (p.beta + v).ln()))
            .collect();
        let partials: Vec<f64> = self
            .rows
            .par_chunks(4096)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|row| {
                        let x = row.x as usize;
                        let (ln_at, ln_bt) = logs[row.t as usize];
                        row.weight
                            * p.ll_from(
                                self.xs[x],
                                heads[x],
                                hyp[row.at_tx as usize],
                                hyp[row.at_t as usize],
                                ln_at,
                                ln_bt,
                            )
                    })
                    .sum()
            })
            .collect();
        -partials.iter().sum::<f64>() / self.customers
    }
}
