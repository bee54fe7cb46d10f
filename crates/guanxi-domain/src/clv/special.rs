//! Special functions the likelihoods need: log-gamma, digamma, log-sum-exp.

pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic
/// series (error below 1e-12 there). libm has no digamma.
pub fn digamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    result + x.ln()
        - 0.5 * inv
        - inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))))
}

/// ln(e^a + e^b) without overflow.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Gauss's hypergeometric ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its series (terms computed by
/// their ratio, summed until they stop mattering).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for n in 0..10_000 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() < 1e-15 * sum.abs() {
            break;
        }
    }
    sum
}

/// ₂F₁(a, b; a + 1; z) for 0 ≤ z < 1 (the Pareto/NBD likelihood's case, c = a + 1) with
/// its derivatives in a (c moving with it), b and z, from one series: the n-th term is
/// a/(a+n) · (b)ₙ/n! · zⁿ, so ∂/∂a multiplies it by n/(a(a+n)), ∂/∂b by Σₖ₍ₙ 1/(b+k)
/// and ∂/∂z by n/z. Returns (F, ∂F/∂a, ∂F/∂b, ∂F/∂z).
pub fn hyp2f1_a1(a: f64, b: f64, z: f64) -> (f64, f64, f64, f64) {
    let (mut f, mut fa, mut fb, mut fz) = (1.0, 0.0, 0.0, 0.0);
    // u = (b)ₙ/n! · zⁿ⁻¹ (z's power one short, so that ∂/∂z needs no division by z).
    let (mut u, mut harmonic) = (1.0, 0.0);
    for n in 1..100_000 {
        let n = n as f64;
        u *= (b + n - 1.0) / n;
        harmonic += 1.0 / (b + n - 1.0);
        let ratio = a / (a + n);
        let dz = ratio * n * u;
        let term = ratio * u * z;
        f += term;
        fa += term * n / (a * (a + n));
        fb += term * harmonic;
        fz += dz;
        u *= z;
        // The derivative terms carry a factor n (or a harmonic sum) more than the
        // terms: stop when those, too, no longer matter.
        if dz.abs() * (1.0 + harmonic) < 1e-15 * (f.abs() + fz.abs()) && n > 1.0 {
            break;
        }
        if z == 0.0 {
            break;
        }
    }
    (f, fa, fb, fz)
}

/// ₂F₁(1, b; c; z) for 0 ≤ z < 1 with its derivatives in b, c and z, from one series:
/// the n-th term is (b)ₙ/(c)ₙ · zⁿ, so ∂/∂b multiplies it by Σₖ₍ₙ 1/(b+k), ∂/∂c by
/// −Σₖ₍ₙ 1/(c+k) and ∂/∂z by n/z. Returns (F, ∂F/∂b, ∂F/∂c, ∂F/∂z). With c large
/// (c > b) the terms shrink at once: Euler's transformation turns the Pareto/NBD's
/// ₂F₁(m, r+x; m+1; z), which overflows for frequencies in the thousands, into this one.
pub fn hyp2f1_1(b: f64, c: f64, z: f64) -> (f64, f64, f64, f64) {
    let (mut f, mut fb, mut fc, mut fz) = (1.0, 0.0, 0.0, 0.0);
    // u = (b)ₙ/(c)ₙ · zⁿ⁻¹.
    let (mut u, mut hb, mut hc) = (1.0, 0.0, 0.0);
    for n in 1..100_000 {
        let k = (n - 1) as f64;
        u *= (b + k) / (c + k);
        hb += 1.0 / (b + k);
        hc += 1.0 / (c + k);
        let n = n as f64;
        let term = u * z;
        let dz = n * u;
        f += term;
        fb += term * hb;
        fc -= term * hc;
        fz += dz;
        u *= z;
        if z == 0.0 || dz.abs() * (1.0 + hb + hc) < 1e-15 * (f.abs() + fz.abs()) {
            break;
        }
    }
    (f, fb, fc, fz)
}

/// Gauss–Jordan inverse of a square matrix with partial pivoting; `None` if singular.
pub fn invert(mut m: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        inv.swap(col, pivot);
        let d = m[col][col];
        for k in 0..n {
            m[col][k] /= d;
            inv[col][k] /= d;
        }
        for row in 0..n {
            if row != col {
                let f = m[row][col];
                for k in 0..n {
                    m[row][k] -= f * m[col][k];
                    inv[row][k] -= f * inv[col][k];
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyp2f1_known_value() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z)/z.
        let z: f64 = 0.5;
        assert!((hyp2f1(1.0, 1.0, 2.0, z) + (1.0 - z).ln() / z).abs() < 1e-12);
    }

    #[test]
    fn hyp2f1_a1_agrees_with_the_series_and_its_slopes() {
        for &(a, b, z) in &[(1.5, 1.8, 0.3), (40.0, 0.7, 0.85), (3.0, 60.0, 0.5), (2.0, 1.2, 0.0)] {
            let (f, fa, fb, fz) = hyp2f1_a1(a, b, z);
            assert!((f - hyp2f1(a, b, a + 1.0, z)).abs() < 1e-12 * f, "{a} {b} {z}");
            let h = 1e-6;
            let slope = |g: &dyn Fn(f64) -> f64, at: f64| (g(at + h) - g(at - h)) / (2.0 * h);
            let da = slope(&|v| hyp2f1(v, b, v + 1.0, z), a);
            let db = slope(&|v| hyp2f1(a, v, a + 1.0, z), b);
            let dz = if z > 0.0 {
                slope(&|v| hyp2f1(a, b, a + 1.0, v), z)
            } else {
                a * b / (a + 1.0)
            };
            for (got, want) in [(fa, da), (fb, db), (fz, dz)] {
                assert!(
                    (got - want).abs() < 1e-6 * (1.0 + want.abs()),
                    "{a} {b} {z}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn hyp2f1_1_agrees_with_the_series_and_its_slopes() {
        for &(b, c, z) in &[(1.6, 3.2, 0.3), (0.7, 4000.0, 0.9), (60.0, 61.5, 0.5), (2.0, 3.0, 0.0)] {
            let (f, fb, fc, fz) = hyp2f1_1(b, c, z);
            assert!((f - hyp2f1(1.0, b, c, z)).abs() < 1e-12 * f, "{b} {c} {z}");
            let h = 1e-6;
            let slope = |g: &dyn Fn(f64) -> f64, at: f64| (g(at + h) - g(at - h)) / (2.0 * h);
            let db = slope(&|v| hyp2f1(1.0, v, c, z), b);
            let dc = slope(&|v| hyp2f1(1.0, b, v, z), c);
            let dz = if z > 0.0 {
                slope(&|v| hyp2f1(1.0, b, c, v), z)
            } else {
                b / c
            };
            for (got, want) in [(fb, db), (fc, dc), (fz, dz)] {
                assert!(
                    (got - want).abs() < 1e-6 * (1.0 + want.abs()),
                    "{b} {c} {z}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn inverse_of_a_small_matrix() {
        let inv = invert(vec![vec![4.0, 7.0], vec![2.0, 6.0]]).unwrap();
        assert!((inv[0][0] - 0.6).abs() < 1e-12 && (inv[1][0] + 0.2).abs() < 1e-12);
        assert!(invert(vec![vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }

    #[test]
    fn digamma_matches_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) from tables.
        let gamma = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + gamma).abs() < 1e-12);
        assert!((digamma(0.5) + gamma + 2.0 * 2f64.ln()).abs() < 1e-12);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 1e-12);
    }

    #[test]
    fn log_add_exp_does_not_overflow() {
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, -3.0), -3.0);
    }
}
