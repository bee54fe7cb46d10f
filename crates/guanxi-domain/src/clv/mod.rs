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
mod special;
mod summary;

pub use bgnbd::{BgNbd, BgNbdFit, Variant};
pub use summary::{Period, Rft, Row, group, summary};

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
