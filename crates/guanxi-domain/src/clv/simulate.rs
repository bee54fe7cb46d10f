//! Customers simulated from a model with known parameters: for parameter-recovery tests
//! and benchmarks. Pure: the caller brings the random number generator.

use rand::Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::{BgNbd, Rft, Variant};

/// `n` customers from BG/NBD (or MBG/NBD) with observation lengths T uniform in
/// `t_range`; `None` if a parameter is not a valid distribution parameter.
pub fn simulate_bgnbd(p: &BgNbd, n: usize, t_range: std::ops::Range<f64>, rng: &mut impl Rng) -> Option<Vec<Rft>> {
    let rates = Gamma::new(p.r, 1.0 / p.alpha).ok()?;
    let dropout = Beta::new(p.a, p.b).ok()?;
    Some(
        (0..n)
            .map(|_| {
                let (lambda, drop): (f64, f64) = (rates.sample(rng), dropout.sample(rng));
                let t = rng.random_range(t_range.clone());
                let (mut now, mut x, mut t_x) = (0.0, 0.0, 0.0);
                // MBG/NBD customers may be gone before their first repeat purchase.
                let mut alive = !(p.variant == Variant::Mbg && rng.random::<f64>() < drop);
                let wait = Exp::new(lambda.max(1e-12)).ok();
                while alive {
                    now += wait.map_or(f64::INFINITY, |w| w.sample(rng));
                    if now > t {
                        break;
                    }
                    x += 1.0;
                    t_x = now;
                    alive = rng.random::<f64>() >= drop;
                }
                Rft { x, t_x, t }
            })
            .collect(),
    )
}
