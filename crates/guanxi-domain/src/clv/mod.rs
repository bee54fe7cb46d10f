//! Predicting customers' futures ("buy till you die" models, docs/domain.md §2, issue 4):
//! the summary statistics of repeat purchases and maximum-likelihood fits.
//!
//! Design:
//! - **Grouped rows.** Customers with the same (x, t_x, T) contribute the same
//!   likelihood term, so a fit works on distinct rows with a weight: a million customers
//!   measured in days collapse to far fewer rows.
//! - **Log-parameters.** The optimiser works on ln r, ln α, ln a, ln b, so every trial
//!   point is a valid model; gradients are analytic (chain rule through the logs).
//! - **Log-space likelihoods.** Sums of exponentials go through log-sum-exp and gamma
//!   functions through `lgamma`, so large frequencies do not overflow.
//! - A fit that fails says why ([`FitError`]); it never returns NaN parameters.

mod bgnbd;
mod forecast;
mod gammagamma;
mod paretonbd;
mod simulate;
mod special;
mod summary;
mod validate;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

pub use bgnbd::{BgNbd, BgNbdFit, Variant};
pub use forecast::{Discounting, Fitted, Forecast, Model, ModelKind, Predict, Unit};
pub use gammagamma::{GammaGamma, GammaGammaFit};
pub use paretonbd::{ParetoNbd, ParetoNbdFit};
pub use simulate::simulate_bgnbd;
use special::invert;
pub use summary::{Period, Rft, Row, Summary, group, holdout, summary, summary_of};
pub use validate::{Bucket, Validation, validate};

/// Why a fit produced no parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("no customers to fit")]
    Empty,
    #[error("the optimiser failed: {0}")]
    Optimiser(String),
    #[error("the fit did not converge: {0}")]
    NotConverged(String),
}

/// A point with the objective's value and gradient there.
type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// A smooth objective over unconstrained parameters: its value and gradient. argmin asks
/// for the cost and the gradient at the same point separately; both come from one pass
/// over the rows, so the last point's answer is kept.
struct Objective<F> {
    f: F,
    last: std::sync::Mutex<Option<Evaluated>>,
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Objective<F> {
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, v, g)) = last.as_ref().filter(|(at, ..)| at.as_slice() == theta) {
            return (*v, g.clone());
        }
        let (v, g) = (self.f)(theta);
        *last = Some((theta.to_vec(), v, g.clone()));
        (v, g)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Objective<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let v = self.eval(theta).0;
        // A non-finite value makes the line search step back rather than fail.
        Ok(if v.is_finite() { v } else { f64::MAX })
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Objective<F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(theta).1)
    }
}

/// Rows per parallel task: large enough that a task outweighs its scheduling.
const CHUNK: usize = 4096;

/// Sums over rows in parallel chunks: `chunk` gives a chunk's weighted log-likelihood
/// and gradient (4 parameters); the chunks' sums are added in order, so that a fit is
/// the same on any number of threads.
fn sum_rows<R: Sync>(rows: &[R], chunk: impl Fn(&[R]) -> [f64; 5] + Sync + Send) -> [f64; 5] {
    use rayon::prelude::*;
    let partials: Vec<[f64; 5]> = rows.par_chunks(CHUNK).map(chunk).collect();
    let mut total = [0.0; 5];
    for part in partials {
        for k in 0..5 {
            total[k] += part[k];
        }
    }
    total
}

/// Distinct values numbered in order of first appearance: a fit's rows refer to times
/// (and pairs of x and time) by number, so that what depends on one value alone is
/// computed once per value and evaluation, not once per row. Keys hash with xxh3: the
/// default SipHash is several times slower on a million small keys.
struct Distinct<K, V> {
    index: std::collections::HashMap<K, u32, xxhash_rust::xxh3::Xxh3DefaultBuilder>,
    values: Vec<V>,
}

impl<K: std::hash::Hash + Eq, V> Distinct<K, V> {
    fn new() -> Self {
        Distinct {
            index: std::collections::HashMap::default(),
            values: Vec::new(),
        }
    }

    /// The number of the value with key `k` (`v` is kept if it is new).
    fn id(&mut self, k: K, v: V) -> u32 {
        let values = &mut self.values;
        *self.index.entry(k).or_insert_with(|| {
            values.push(v);
            (values.len() - 1) as u32
        })
    }
}

/// Adds a row's log-likelihood `l` and gradient `d`, weighted, to a chunk's sum.
#[inline]
fn accumulate(sum: &mut [f64; 5], weight: f64, l: f64, d: [f64; 4]) {
    sum[0] += weight * l;
    for k in 0..4 {
        sum[k + 1] += weight * d[k];
    }
}

/// Asserts that `f`'s gradient at `at` is its value's slope (central differences).
#[cfg(test)]
fn assert_slope(at: [f64; 4], f: impl Fn([f64; 4]) -> (f64, [f64; 4]), what: &str) {
    let g = f(at).1;
    for k in 0..4 {
        let h = 1e-6 * at[k];
        let (mut up, mut down) = (at, at);
        up[k] += h;
        down[k] -= h;
        let numeric = (f(up).0 - f(down).0) / (2.0 * h);
        assert!(
            (numeric - g[k]).abs() < 1e-5 * (1.0 + g[k].abs()),
            "{what} {k}: {numeric} vs {}",
            g[k]
        );
    }
}

/// The objective the optimiser sees from a sum of log-likelihoods and gradients in the
/// parameters `params`: the negative mean over `customers`, and its gradient in the
/// log-parameters (chain rule: ∂/∂ln θ = θ ∂/∂θ).
fn negative_mean(total: [f64; 5], params: [f64; 4], customers: f64) -> (f64, Vec<f64>) {
    (
        -total[0] / customers,
        (0..4).map(|k| -total[k + 1] * params[k] / customers).collect(),
    )
}

/// Where a minimisation ended: the log-parameters, the objective (negative mean
/// log-likelihood) and its gradient there, and the work it took.
struct Optimum {
    theta: Vec<f64>,
    value: f64,
    grad: Vec<f64>,
    iterations: u64,
}

/// Minimises `f` (value and gradient) from `start` with L-BFGS. Every fit goes through
/// here.
///
/// The objective is divided by its largest slope at the start, so that the first step
/// (along the gradient, of length one) moves the log-parameters by about one whatever the
/// data: with frequencies in the thousands the unscaled first step overflows every trial
/// point and the line search gives up where it started. An end with a slope still
/// clearly non-zero is reported as not converged, never as a fit.
fn minimise(start: Vec<f64>, f: impl Fn(&[f64]) -> (f64, Vec<f64>)) -> Result<Optimum, FitError> {
    let (v0, g0) = f(&start);
    if !v0.is_finite() || g0.iter().any(|g| !g.is_finite()) {
        return Err(FitError::NotConverged(format!(
            "non-finite likelihood at the start {start:?}"
        )));
    }
    let scale = g0.iter().fold(1.0f64, |m, g| m.max(g.abs()));
    let f = move |theta: &[f64]| {
        let (v, g) = f(theta);
        (v / scale, g.into_iter().map(|g| g / scale).collect::<Vec<f64>>())
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-9)
        .and_then(|s| s.with_tolerance_cost(1e-14))
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    // The start's pass is the optimiser's first point too.
    let seeded = (start.clone(), v0 / scale, g0.iter().map(|g| g / scale).collect());
    let objective = Objective {
        f: &f,
        last: std::sync::Mutex::new(Some(seeded)),
    };
    let mut result = Executor::new(objective, solver)
        .configure(|state| state.param(start).max_iters(500))
        .run()
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    let state = result.state();
    let theta = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| FitError::NotConverged("no parameters".into()))?;
    if let TerminationStatus::Terminated(TerminationReason::MaxItersReached) = state.get_termination_status() {
        return Err(FitError::NotConverged(format!("{} iterations", state.get_iter())));
    }
    if theta.iter().any(|t| !t.is_finite()) {
        return Err(FitError::NotConverged(format!("non-finite parameters {theta:?}")));
    }
    let iterations = state.get_iter();
    // Usually the last point evaluated, so no new pass over the rows.
    let (value, grad) = match result.problem.take_problem() {
        Some(objective) => objective.eval(&theta),
        None => f(&theta),
    };
    if !value.is_finite() || grad.iter().any(|g| !g.is_finite()) {
        return Err(FitError::NotConverged(format!(
            "non-finite likelihood at the optimum {theta:?}"
        )));
    }
    let slope = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    if slope > 1e-5 {
        return Err(FitError::NotConverged(format!(
            "stopped after {iterations} iterations at {theta:?} with the slope still {slope:.3e}"
        )));
    }
    Ok(Optimum {
        theta,
        value: value * scale,
        grad: grad.into_iter().map(|g| g * scale).collect(),
        iterations,
    })
}

/// Standard errors of the parameters from the inverse of the observed information at
/// the optimum of `f` — the objective the fit minimised: the negative mean log-likelihood
/// of `customers` customers over log-parameters. The Hessian is taken by forward
/// differences of the analytic gradient, in log space, and carried to the parameters by
/// the delta method: se(θ) = θ · se(ln θ).
fn std_errors(at: &Optimum, customers: f64, f: impl Fn(&[f64]) -> (f64, Vec<f64>)) -> Option<Vec<f64>> {
    let n = at.theta.len();
    let step = 1e-6;
    let mut h = vec![vec![0.0; n]; n];
    for j in 0..n {
        let mut up = at.theta.clone();
        up[j] += step;
        let g = f(&up).1;
        for i in 0..n {
            h[i][j] = customers * (g[i] - at.grad[i]) / step;
        }
    }
    // Symmetrise: the two differences of one mixed derivative differ by the step's error.
    for (i, j) in (0..n).flat_map(|i| (0..i).map(move |j| (i, j))) {
        let m = 0.5 * (h[i][j] + h[j][i]);
        (h[i][j], h[j][i]) = (m, m);
    }
    let inv = invert(h)?;
    let se: Vec<f64> = (0..n).map(|k| at.theta[k].exp() * inv[k][k].sqrt()).collect();
    se.iter().all(|v| v.is_finite()).then_some(se)
}
