//! Holdout validation: a model fitted on a calibration period predicts each customer's
//! repeat purchases in the holdout period; compared with what they did, in total and by
//! calibration frequency (the comparison of Fader, Hardie & Lee 2005, figure 4).

use serde::Serialize;

use super::{Model, Summary};

/// Calibration frequencies 0 to 6 each have a bucket; 7 and more share the last.
const LAST_BUCKET: usize = 7;

/// Customers with one calibration frequency (or 7+), their mean holdout purchases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// "0" … "6", "7+".
    pub frequency: String,
    pub customers: usize,
    pub actual_mean: f64,
    pub predicted_mean: f64,
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    pub customers: usize,
    pub actual_total: f64,
    pub predicted_total: f64,
    /// (predicted − actual) / actual of the totals.
    pub total_error: f64,
    /// Mean absolute error per customer.
    pub mae: f64,
    /// Root mean squared error per customer.
    pub rmse: f64,
    pub by_frequency: Vec<Bucket>,
}

/// Compares `model`'s expected purchases over `holdout` units with `actual` (per
/// customer of `calibration`, in its order, as [`super::holdout`] returns them).
pub fn validate<K>(model: &Model, calibration: &[Summary<K>], actual: &[f64], holdout: f64) -> Validation {
    let mut sums = vec![(0usize, 0.0, 0.0); LAST_BUCKET + 1];
    let (mut abs, mut sq, mut actual_total, mut predicted_total) = (0.0, 0.0, 0.0, 0.0);
    for (c, &a) in calibration.iter().zip(actual) {
        let p = model.expected_purchases(holdout, c.rft);
        let b = &mut sums[(c.rft.x as usize).min(LAST_BUCKET)];
        b.0 += 1;
        b.1 += a;
        b.2 += p;
        abs += (p - a).abs();
        sq += (p - a) * (p - a);
        actual_total += a;
        predicted_total += p;
    }
    let n = calibration.len().min(actual.len());
    let per = |v: f64| if n == 0 { 0.0 } else { v / n as f64 };
    Validation {
        customers: n,
        actual_total,
        predicted_total,
        total_error: if actual_total > 0.0 {
            (predicted_total - actual_total) / actual_total
        } else {
            0.0
        },
        mae: per(abs),
        rmse: per(sq).sqrt(),
        by_frequency: sums
            .into_iter()
            .enumerate()
            .map(|(k, (customers, a, p))| {
                let mean = |v: f64| if customers == 0 { 0.0 } else { v / customers as f64 };
                Bucket {
                    frequency: if k == LAST_BUCKET {
                        format!("{LAST_BUCKET}+")
                    } else {
                        k.to_string()
                    },
                    customers,
                    actual_mean: mean(a),
                    predicted_mean: mean(p),
                }
            })
            .collect(),
    }
}
