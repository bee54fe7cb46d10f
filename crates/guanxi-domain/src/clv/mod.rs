//! Predicting customers' futures ("buy till you die" models, DOMAIN.md §2, issue 4):
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
mod gammagamma;
mod paretonbd;
mod simulate;
mod special;
mod summary;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

pub use bgnbd::{BgNbd, BgNbdFit, Variant};
pub use gammagamma::{GammaGamma, GammaGammaFit};
pub use paretonbd::{ParetoNbd, ParetoNbdFit};
pub use simulate::simulate_bgnbd;
use special::invert;
pub use summary::{Period, Rft, Row, Summary, group, holdout, summary};

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

/// A smooth objective over unconstrained parameters: its value and gradient.
struct Objective<F>(F);

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Objective<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let v = (self.0)(theta).0;
        // A non-finite value makes the line search step back rather than fail.
        Ok(if v.is_finite() { v } else { f64::MAX })
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Objective<F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok((self.0)(theta).1)
    }
}

/// Minimises `f` (value and gradient) from the origin with L-BFGS; returns the
/// parameters and the iterations taken. Every fit goes through here.
fn minimise(dim: usize, f: impl Fn(&[f64]) -> (f64, Vec<f64>)) -> Result<(Vec<f64>, u64), FitError> {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-9)
        .and_then(|s| s.with_tolerance_cost(1e-14))
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    let result = Executor::new(Objective(f), solver)
        .configure(|state| state.param(vec![0.0; dim]).max_iters(500))
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
    Ok((theta, state.get_iter()))
}

/// Standard errors from the inverse of the observed information: the Hessian of the
/// negative log-likelihood `grad` gives the gradient of, by central differences.
fn std_errors(at: &[f64], grad: impl Fn(&[f64]) -> Vec<f64>) -> Option<Vec<f64>> {
    let n = at.len();
    let mut h = vec![vec![0.0; n]; n];
    for j in 0..n {
        let step = 1e-5 * at[j].abs().max(1e-3);
        let (mut up, mut down) = (at.to_vec(), at.to_vec());
        up[j] += step;
        down[j] -= step;
        let (gu, gd) = (grad(&up), grad(&down));
        for i in 0..n {
            h[i][j] = -(gu[i] - gd[i]) / (2.0 * step);
        }
    }
    let inv = invert(h)?;
    let se: Vec<f64> = (0..n).map(|k| inv[k][k].sqrt()).collect();
    se.iter().all(|v| v.is_finite()).then_some(se)
}
