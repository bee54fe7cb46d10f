//! Customer profiles: the measures of docs/domain.md §2 and the classes of §3, with the rule
//! and figures behind each class, all as of a given moment and under typed [`Settings`].
//!
//! Per-customer figures come from [`Measures::of`]; classes that compare customers with
//! each other (RFM scores, the pyramid, the quadrant's median) need the [`Population`]
//! first. Everything here is pure and deterministic (ties broken by customer id).

mod classes;
mod measures;
mod population;
pub mod settings;

pub use classes::{
    Activity, Classes, Explained, Lifecycle, Population, Pricing, Quadrant, Relationship, Standing, churn_threshold,
    classify,
};
pub use measures::{Measures, OrderFact, ReviewFact, ServiceFact, intervals, median, paid_time};
pub use population::{Rfm8, Rfm11, RfmScores, Tier, fm_score, ntile, population, pyramid, ranks, rfm};
pub use settings::{Cycle, Settings};
