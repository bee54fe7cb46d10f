//! Every threshold of docs/domain.md §3 as one typed setting, with the documented defaults.
//! Loaded from TOML by the binary (`guanxi config show` prints it); unknown keys are
//! refused so that a typo cannot silently fall back to a default.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Purchase occasions: what counts as one purchase for cycles and intervals.
    pub cycle: Cycle,
    pub churn: Churn,
    pub loyal: Loyal,
    pub activity: Activity,
    pub lifecycle: Lifecycle,
    pub pyramid: Pyramid,
    pub quadrant: Quadrant,
    pub pricing: Pricing,
    pub rfm: Rfm,
    /// Prediction (docs/domain.md §4): the model, horizon and discounting of each build's
    /// forecasts.
    pub predict: crate::clv::Predict,
    /// Engagement (docs/domain.md §5): consent, caps and quiet hours applied to every send.
    pub contact: crate::program::ContactPolicy,
    /// Where each channel delivers.
    pub channels: crate::program::Delivery,
    /// Membership points (docs/domain.md §6): how many a yuan earns, how long they last.
    pub points: crate::points::Rules,
    /// Membership tiers (docs/domain.md §6): thresholds, window, evaluation, benefits.
    pub tiers: crate::tier::Tiers,
    /// The coupons the shop offers, by name (docs/domain.md §6): what programs, tier
    /// benefits and campaigns issue.
    pub coupons: crate::coupon::Definitions,
}

impl Settings {
    /// What the types cannot say: every coupon a tier gives is defined — its own
    /// `coupons`, and the free-shipping and birthday coupons where it has those benefits.
    /// The error names the table and what was expected.
    pub fn check(&self) -> Result<(), String> {
        use crate::tier::Benefit;
        for level in &self.tiers.levels {
            for benefit in [Benefit::Coupons, Benefit::FreeShipping, Benefit::BirthdayGift] {
                for c in level.coupons_for(benefit) {
                    self.coupons
                        .named(c)
                        .map_err(|e| format!("[tiers] level {:?} ({}): {e}", level.name, benefit.as_str()))?;
                }
            }
        }
        Ok(())
    }
}

/// Purchase occasions: a buyer's paid orders within `occasion_gap_hours` of the first of
/// them are one occasion when purchase cycles and intervals are measured. Shops see
/// second orders minutes after the first — a postage top-up (补邮费), a forgotten item,
/// a split payment — and counted as purchases they make a book shop's cycle 4 days and
/// class nearly every buyer churned. 0 counts every order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cycle {
    pub occasion_gap_hours: u32,
}

impl Default for Cycle {
    fn default() -> Self {
        Cycle { occasion_gap_hours: 24 }
    }
}

impl Cycle {
    pub fn occasion_gap(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.occasion_gap_hours))
    }
}

/// Churned 流失: no paid order for longer than max(`min_days`, `cycle_multiple` × own cycle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Churn {
    pub min_days: u32,
    pub cycle_multiple: f64,
}

impl Default for Churn {
    fn default() -> Self {
        Churn {
            min_days: 365,
            cycle_multiple: 3.0,
        }
    }
}

/// Loyal 忠诚: ≥ `min_orders` paid orders in ≥ `min_quarters` distinct quarters of the last
/// `window_months`, and not churned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Loyal {
    pub min_orders: u32,
    pub min_quarters: u32,
    pub window_months: u32,
}

impl Default for Loyal {
    fn default() -> Self {
        Loyal {
            min_orders: 4,
            min_quarters: 3,
            window_months: 24,
        }
    }
}

/// Activity 活跃/沉睡/流失 by days since the last paid order against `sleeping_multiple` and
/// `churned_multiple` × the shop's purchase cycle, or the fallbacks when it is unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Activity {
    pub sleeping_multiple: f64,
    pub churned_multiple: f64,
    pub fallback_sleeping_days: u32,
    pub fallback_churned_days: u32,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            sleeping_multiple: 1.0,
            churned_multiple: 3.0,
            fallback_sleeping_days: 90,
            fallback_churned_days: 365,
        }
    }
}

/// Lifecycle 生命周期: decline when the last `window_days` bring less than `decline_ratio` of
/// the previous `window_days` (spend or orders), or the customer is overdue by more than
/// `overdue_multiple` × their own cycle; stability when ≥ `stable_min_orders` orders come
/// at regular intervals (coefficient of variation ≤ `regular_cv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lifecycle {
    pub window_days: u32,
    pub decline_ratio: f64,
    pub overdue_multiple: f64,
    pub stable_min_orders: u32,
    pub regular_cv: f64,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            window_days: 180,
            decline_ratio: 0.5,
            overdue_multiple: 2.0,
            stable_min_orders: 3,
            regular_cv: 0.5,
        }
    }
}

/// Value pyramid 金字塔: shares of buyers (percent) by profit in the last `window_months`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pyramid {
    pub vip_percent: f64,
    pub major_percent: f64,
    pub ordinary_percent: f64,
    pub window_months: u32,
    /// Ordinary and small customers whose spend in the last 180 days exceeds the previous
    /// 180 days' by this factor have upgrade potential.
    pub upgrade_growth: f64,
}

impl Default for Pyramid {
    fn default() -> Self {
        Pyramid {
            vip_percent: 1.0,
            major_percent: 4.0,
            ordinary_percent: 15.0,
            window_months: 12,
            upgrade_growth: 1.2,
        }
    }
}

/// Loyalty × profitability 顾客四型: loyal when active in ≥ `active_months` of the last
/// `window_months`, or ≥ `regular_min_orders` orders at regular intervals (CV ≤ `regular_cv`);
/// profitable when profit is above the median of buyers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quadrant {
    pub active_months: u32,
    pub window_months: u32,
    pub regular_min_orders: u32,
    pub regular_cv: f64,
}

impl Default for Quadrant {
    fn default() -> Self {
        Quadrant {
            active_months: 4,
            window_months: 12,
            regular_min_orders: 3,
            regular_cv: 0.5,
        }
    }
}

/// Transaction-type 交易型: ≥ `price_driven_share` of paid orders with a discount ≥
/// `min_discount` of the goods, or in a promotion. Most profitable: profit at or above
/// the `top_profit_percentile` of buyers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pricing {
    pub price_driven_share: f64,
    pub min_discount: f64,
    pub top_profit_percentile: f64,
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing {
            price_driven_share: 0.8,
            min_discount: 0.2,
            top_profit_percentile: 80.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Threshold {
    Mean,
    Median,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Compare the raw R, F, M values.
    Raw,
    /// Compare the 1–5 scores.
    Scores,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// High means strictly better than the threshold.
    #[serde(rename = ">")]
    Greater,
    /// High means at least as good as the threshold.
    #[serde(rename = ">=")]
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Monetary {
    Amount,
    Profit,
}

/// RFM: F and M count the last `window_months`; the 8-class model compares against the
/// `threshold` of the `basis` with `comparison`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rfm {
    pub window_months: u32,
    pub monetary: Monetary,
    pub threshold: Threshold,
    pub basis: Basis,
    pub comparison: Comparison,
}

impl Default for Rfm {
    fn default() -> Self {
        Rfm {
            window_months: 12,
            monetary: Monetary::Amount,
            threshold: Threshold::Mean,
            basis: Basis::Raw,
            comparison: Comparison::Greater,
        }
    }
}
