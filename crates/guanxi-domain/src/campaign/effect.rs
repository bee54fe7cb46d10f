//! What a campaign earned, honestly: treatment against a random holdout, each figure
//! with a 95 % interval that stays right at a small shop's counts.
//!
//! - Conversion lift (treated rate − control rate): Newcombe's hybrid score interval
//!   (his method 10: two Wilson intervals combined), which keeps its coverage where the
//!   Wald interval fails — a handful of conversions, a small holdout.
//! - Relative lift (treated ÷ control − 1): Fieller's interval, given only when the
//!   control rate is clearly above zero (otherwise the ratio has no bounded interval,
//!   and none is shown).
//! - Profit per head lift: Welch's t interval (unequal variances) on values winsorised
//!   at cut points pooled over both arms (one big order cannot swing the verdict), after
//!   CUPED — each customer's profit in the year before launch removes the part of the
//!   spread that was there before the campaign (θ pooled over both arms, so the
//!   adjustment cannot favour either).
//! - A sample-ratio-mismatch check (χ² of the arms' sizes against the designed shares),
//!   and the minimum detectable effect before launch.
//!
//! Reference values for each formula were computed with statsmodels and scipy (the
//! script is in `tests/reference/effect.py`) and are checked by this module's tests.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// The confidence of every interval here.
pub const CONFIDENCE: f64 = 0.95;
/// An SRM is flagged below this p-value: at this level a true split is almost never
/// flagged, so a flag means the assignment or the sends are broken.
pub const SRM_P: f64 = 0.001;

/// An estimate with its interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// Whether the interval lies wholly above zero, wholly below, or spans it.
    pub fn sign(&self) -> Sign {
        if self.low > 0.0 {
            Sign::Positive
        } else if self.high < 0.0 {
            Sign::Negative
        } else {
            Sign::Inconclusive
        }
    }

    /// The estimate times `k` (its interval too; a negative `k` swaps the ends).
    pub fn scaled(self, k: f64) -> Estimate {
        let (a, b) = (self.low * k, self.high * k);
        Estimate {
            value: self.value * k,
            low: a.min(b),
            high: a.max(b),
        }
    }
}

/// What an interval supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    Positive,
    Negative,
    /// The interval spans zero: no verdict either way.
    Inconclusive,
}

/// The two-sided normal quantile for `confidence` (1.96 at 95 %).
pub fn z(confidence: f64) -> f64 {
    let n = Normal::standard();
    n.inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
}

/// Wilson's score interval for a proportion `x / n` (no continuity correction); `None`
/// when `n` is 0.
pub fn wilson(x: u64, n: u64, confidence: f64) -> Option<Estimate> {
    if n == 0 || x > n {
        return None;
    }
    let (x, n) = (x as f64, n as f64);
    let z = z(confidence);
    let p = x / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// The difference of two proportions `x1/n1 − x2/n2` with Newcombe's hybrid score
/// interval (as statsmodels' `confint_proportions_2indep(method="newcomb")`); `None`
/// when either arm is empty.
pub fn newcombe(x1: u64, n1: u64, x2: u64, n2: u64, confidence: f64) -> Option<Estimate> {
    let a = wilson(x1, n1, confidence)?;
    let b = wilson(x2, n2, confidence)?;
    let d = a.value - b.value;
    Some(Estimate {
        value: d,
        low: d - ((a.value - a.low).powi(2) + (b.high - b.value).powi(2)).sqrt(),
        high: d + ((a.high - a.value).powi(2) + (b.value - b.low).powi(2)).sqrt(),
    })
}

/// The relative lift `(x1/n1) / (x2/n2) − 1` with Fieller's interval for the ratio of
/// two independent means; `None` when the control rate is not clearly above zero (its
/// own interval reaches zero: the ratio is then unbounded and no interval is honest).
pub fn fieller_relative(x1: u64, n1: u64, x2: u64, n2: u64, confidence: f64) -> Option<Estimate> {
    if n1 == 0 || n2 == 0 || x2 == 0 {
        return None;
    }
    let (a, b) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let (va, vb) = (a * (1.0 - a) / n1 as f64, b * (1.0 - b) / n2 as f64);
    let z = z(confidence);
    let g = z * z * vb / (b * b);
    if g >= 1.0 {
        return None;
    }
    let ratio = a / b;
    let half = (z / b) * (va * (1.0 - g) + ratio * ratio * vb).sqrt();
    Some(Estimate {
        value: ratio - 1.0,
        low: (ratio - half) / (1.0 - g) - 1.0,
        high: (ratio + half) / (1.0 - g) - 1.0,
    })
}

/// Mean and sample variance (n − 1).
fn moments(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// The difference of two means `mean(a) − mean(b)` with Welch's t interval (as scipy's
/// `ttest_ind(a, b, equal_var=False).confidence_interval()`); `None` with fewer than
/// two values in either arm. Two arms without any spread give a zero-width interval.
pub fn welch(a: &[f64], b: &[f64], confidence: f64) -> Option<Estimate> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (ma, va) = moments(a);
    let (mb, vb) = moments(b);
    let (sa, sb) = (va / a.len() as f64, vb / b.len() as f64);
    let se = (sa + sb).sqrt();
    let d = ma - mb;
    if se == 0.0 {
        return Some(Estimate {
            value: d,
            low: d,
            high: d,
        });
    }
    let df = (sa + sb).powi(2) / (sa * sa / (a.len() - 1) as f64 + sb * sb / (b.len() - 1) as f64);
    let t = StudentsT::new(0.0, 1.0, df)
        .ok()?
        .inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    Some(Estimate {
        value: d,
        low: d - t * se,
        high: d + t * se,
    })
}

/// The `q` quantile of sorted values (linear between neighbours, as numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + (next - sorted[i]) * frac,
        None => sorted[i],
    }
}

/// Both arms' values clamped to the `share` and `1 − share` quantiles of the two arms
/// pooled (the same cut points for both, so the clamp cannot favour either).
pub fn winsorised(a: &[f64], b: &[f64], share: f64) -> (Vec<f64>, Vec<f64>) {
    let mut pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    if pooled.is_empty() {
        return (Vec::new(), Vec::new());
    }
    pooled.sort_by(f64::total_cmp);
    let (lo, hi) = (quantile(&pooled, share), quantile(&pooled, 1.0 - share));
    let clamp = |v: &[f64]| v.iter().map(|x| x.clamp(lo, hi)).collect();
    (clamp(a), clamp(b))
}

/// CUPED: each value less θ × (its covariate − the covariates' mean), with θ =
/// cov(x, y) / var(x) over both arms pooled. The means stay as they were in
/// expectation; the spread the covariate explains goes. Arms given as (values,
/// covariates); a covariate without spread changes nothing.
pub fn cuped(a: (&[f64], &[f64]), b: (&[f64], &[f64])) -> (Vec<f64>, Vec<f64>) {
    let ys: Vec<f64> = a.0.iter().chain(b.0).copied().collect();
    let xs: Vec<f64> = a.1.iter().chain(b.1).copied().collect();
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return (a.0.to_vec(), b.0.to_vec());
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let theta = if var > 0.0 { cov / var } else { 0.0 };
    let adjust = |(y, x): (&[f64], &[f64])| y.iter().zip(x).map(|(y, x)| y - theta * (x - mx)).collect();
    (adjust(a), adjust(b))
}

/// The share winsorised at each end of the profit per head.
pub const WINSOR_SHARE: f64 = 0.01;

/// Profit (or revenue) per head lift, treated − control: winsorised at pooled cut
/// points, CUPED-adjusted by `before` (each customer's profit in the year before
/// launch, in the same order as the values) when given, then Welch's interval.
pub fn per_head_lift(
    treated: &[f64],
    control: &[f64],
    before: Option<(&[f64], &[f64])>,
    confidence: f64,
) -> Option<Estimate> {
    let (t, c) = winsorised(treated, control, WINSOR_SHARE);
    match before {
        Some((bt, bc)) if bt.len() == t.len() && bc.len() == c.len() => {
            let (bt, bc) = winsorised(bt, bc, WINSOR_SHARE);
            let (t, c) = cuped((&t, &bt), (&c, &bc));
            welch(&t, &c, confidence)
        }
        _ => welch(&t, &c, confidence),
    }
}

/// A sample-ratio-mismatch check: the arms' sizes against the designed shares.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Srm {
    pub chi2: f64,
    pub p: f64,
    /// p below [`SRM_P`]: the split is not what was designed, and no figure of the
    /// campaign can be trusted until the cause is found.
    pub flagged: bool,
}

/// χ² goodness of fit of `observed` sizes to `shares` (which sum to 1), as scipy's
/// `chisquare`; `None` with fewer than two arms or no one at all.
pub fn srm(observed: &[u64], shares: &[f64]) -> Option<Srm> {
    let total: u64 = observed.iter().sum();
    if observed.len() < 2 || observed.len() != shares.len() || total == 0 {
        return None;
    }
    let chi2: f64 = observed
        .iter()
        .zip(shares)
        .map(|(o, s)| {
            let e = s * total as f64;
            if e > 0.0 { (*o as f64 - e).powi(2) / e } else { 0.0 }
        })
        .sum();
    let dist = ChiSquared::new((observed.len() - 1) as f64).ok()?;
    let p = 1.0 - dist.cdf(chi2);
    Some(Srm {
        chi2,
        p,
        flagged: p < SRM_P,
    })
}

/// The smallest absolute conversion lift a campaign of `treated` and `control`
/// customers detects with 80 % power at 95 % confidence, when the control converts at
/// `base_rate` (the shop's own rate over a like window). The treated arm's variance is
/// taken at the lifted rate (the fixed point of d = (z₀.₉₇₅ + z₀.₈)·√(p(1−p)/n_c +
/// (p+d)(1−p−d)/n_t)), so that a base rate of zero still needs a lift of a few
/// customers, not none.
pub fn minimum_detectable_lift(treated: u64, control: u64, base_rate: f64) -> Option<f64> {
    if treated == 0 || control == 0 || !(0.0..=1.0).contains(&base_rate) {
        return None;
    }
    let k = z(CONFIDENCE) + Normal::standard().inverse_cdf(0.8);
    let p = base_rate;
    let (nt, nc) = (treated as f64, control as f64);
    // From above (the largest variance) down to the fixed point: f is increasing in d
    // where it matters and its slope below 1, so the iteration converges.
    let mut d = k * (0.25 / nt + p * (1.0 - p) / nc).sqrt();
    for _ in 0..200 {
        let q = (p + d).min(1.0);
        let next = k * (p * (1.0 - p) / nc + q * (1.0 - q) / nt).sqrt();
        if (next - d).abs() < 1e-12 {
            return Some(next);
        }
        d = next;
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn check(e: Estimate, (value, low, high): (f64, f64, f64)) {
        assert!(
            close(e.value, value, 1e-9) && close(e.low, low, 1e-7) && close(e.high, high, 1e-7),
            "{e:?} against ({value}, {low}, {high})"
        );
    }

    /// statsmodels 0.15 `confint_proportions_2indep(x1, n1, x2, n2, method="newcomb")`
    /// (tests/reference/effect.py).
    #[test]
    fn newcombe_matches_statsmodels() {
        for (x1, n1, x2, n2, low, high) in super::super::reference::NEWCOMBE {
            let e = newcombe(x1, n1, x2, n2, CONFIDENCE).unwrap();
            let d = x1 as f64 / n1 as f64 - x2 as f64 / n2 as f64;
            check(e, (d, low, high));
        }
        assert_eq!(newcombe(1, 0, 1, 2, CONFIDENCE), None);
    }

    /// scipy 1.17 `ttest_ind(a, b, equal_var=False).confidence_interval(0.95)`.
    #[test]
    fn welch_matches_scipy() {
        for (a, b, low, high) in super::super::reference::welch() {
            let e = welch(&a, &b, CONFIDENCE).unwrap();
            let d = a.iter().sum::<f64>() / a.len() as f64 - b.iter().sum::<f64>() / b.len() as f64;
            check(e, (d, low, high));
        }
        assert_eq!(welch(&[1.0], &[1.0, 2.0], CONFIDENCE), None);
    }

    /// scipy's `chisquare(observed, expected)`.
    #[test]
    fn srm_matches_scipy_and_flags_a_broken_split() {
        for (observed, shares, chi2, p) in super::super::reference::SRM {
            let s = srm(observed, shares).unwrap();
            assert!(
                close(s.chi2, chi2, 1e-9) && close(s.p, p, 1e-9),
                "{s:?} against {chi2} {p}"
            );
        }
        // A 10 % holdout that came out at 13 % of 5,000.
        assert!(srm(&[4350, 650], &[0.9, 0.1]).unwrap().flagged);
        assert!(!srm(&[4510, 490], &[0.9, 0.1]).unwrap().flagged);
    }

    /// Fieller's interval for the ratio, by its definition: the values of ρ for which
    /// (a − ρ b)² ≤ z² (va + ρ² vb) — the ends solve it with equality.
    #[test]
    fn fieller_ends_solve_its_quadratic() {
        let (x1, n1, x2, n2) = (60, 1000, 40, 1000);
        let e = fieller_relative(x1, n1, x2, n2, CONFIDENCE).unwrap();
        let (a, b) = (0.06, 0.04);
        let (va, vb) = (a * (1.0 - a) / 1000.0, b * (1.0 - b) / 1000.0);
        let z = z(CONFIDENCE);
        for rho in [e.low + 1.0, e.high + 1.0] {
            let gap = (a - rho * b).powi(2) - z * z * (va + rho * rho * vb);
            assert!(gap.abs() < 1e-12, "{rho}: {gap}");
        }
        assert!(close(e.value, 0.5, 1e-12));
        // No control conversions, or too few to bound the ratio: no interval.
        assert_eq!(fieller_relative(5, 100, 0, 100, CONFIDENCE), None);
        assert_eq!(fieller_relative(5, 100, 1, 100, CONFIDENCE), None);
    }

    #[test]
    fn cuped_keeps_the_difference_and_narrows_the_interval() {
        // Profit now = profit before + noise + 2 for the treated.
        let before_t: Vec<f64> = (0..200).map(|i| (i % 17) as f64 * 10.0).collect();
        let before_c: Vec<f64> = (0..200).map(|i| ((i + 5) % 17) as f64 * 10.0).collect();
        let noise = |i: usize| ((i * 7919) % 13) as f64 - 6.0;
        let t: Vec<f64> = before_t.iter().enumerate().map(|(i, b)| b + noise(i) + 2.0).collect();
        let c: Vec<f64> = before_c.iter().enumerate().map(|(i, b)| b + noise(i + 3)).collect();
        let plain = welch(&t, &c, CONFIDENCE).unwrap();
        let (at, ac) = cuped((&t, &before_t), (&c, &before_c));
        let adjusted = welch(&at, &ac, CONFIDENCE).unwrap();
        assert!(
            adjusted.high - adjusted.low < (plain.high - plain.low) / 5.0,
            "{plain:?} {adjusted:?}"
        );
        assert!(adjusted.low < 2.0 && 2.0 < adjusted.high, "{adjusted:?}");
    }

    #[test]
    fn winsorising_uses_the_pooled_cut_points() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b = vec![1e6];
        let (wa, wb) = winsorised(&a, &b, 0.01);
        // The pooled 99 % point lies between 99 and 1e6; the outlier is pulled to it.
        assert!(wb[0] < 1e6 && wb[0] >= 99.0, "{wb:?}");
        assert_eq!(wa[50], 50.0);
    }

    #[test]
    fn the_minimum_detectable_lift_shrinks_with_size() {
        let small = minimum_detectable_lift(1800, 200, 0.05).unwrap();
        let big = minimum_detectable_lift(18_000, 2_000, 0.05).unwrap();
        // The fixed point computed with scipy's norm.ppf (d = k·√(p(1−p)/n_c + q(1−q)/n_t),
        // q = p + d, iterated): 0.047408, 0.014586, and 0.004342 at a base rate of 0.
        assert!(close(small, 0.047_408, 1e-6), "{small}");
        assert!(close(big, 0.014_586, 1e-6), "{big}");
        let none = minimum_detectable_lift(1800, 200, 0.0).unwrap();
        assert!(close(none, 0.004_342, 1e-6), "{none}");
        assert_eq!(minimum_detectable_lift(1800, 0, 0.05), None);
    }
}
