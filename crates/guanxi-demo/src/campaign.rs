//! A campaign whose true effect is known, for checking the effect report: a small
//! shop's audience with a spread of past value, a random holdout drawn as a launch
//! draws it, and outcomes in which the treated convert at a set uplift and spend a set
//! amount more per order. The true lifts are the expected lifts over this audience, so
//! an honest 95 % interval contains them in about 95 of 100 runs.

use guanxi_domain::campaign::{Assigned, Audience, Campaign, Outcome};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The effect a simulated campaign has.
#[derive(Debug, Clone, Copy)]
pub struct Truth {
    /// Customers in the audience.
    pub customers: usize,
    /// The share held out.
    pub holdout: f64,
    /// Added to each treated customer's chance of buying in the window.
    pub uplift: f64,
    /// Added to the profit of each order a treated customer places (cents).
    pub profit_shift: f64,
    /// What a message costs (cents).
    pub message_cost: i64,
}

impl Default for Truth {
    /// 2,000 customers, a 10 % holdout, +3 points of conversion, +¥15 profit an order.
    fn default() -> Truth {
        Truth {
            customers: 2000,
            holdout: 0.1,
            uplift: 0.03,
            profit_shift: 1500.0,
            message_cost: 5,
        }
    }
}

/// One simulated campaign: its definition, its members' outcomes, and the true lifts.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub campaign: Campaign,
    pub outcomes: Vec<Outcome>,
    /// The expected conversion lift over this audience (= the uplift).
    pub conversion_lift: f64,
    /// The expected profit per head lift over this audience (cents).
    pub profit_lift: f64,
}

/// A campaign of `truth` drawn from `seed`: the same seed, the same campaign.
pub fn simulate(seed: u64, truth: Truth) -> Simulated {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let campaign = Campaign::new(
        "simulated",
        seed,
        vec![Audience {
            name: "all".into(),
            segment: "everyone".into(),
            holdout: truth.holdout,
            variants: vec![],
        }],
    )
    .expect("a well-formed campaign");
    let mut outcomes = Vec::with_capacity(truth.customers);
    let mut expected_lift = 0.0;
    for customer in 1..=truth.customers as i64 {
        // Past value: most bought little, a few a lot (a log-normal-like spread from
        // uniforms, so that the generator needs no distribution crate).
        let u: f64 = rng.random_range(0.0001..1.0);
        let level = (-u.ln()).powf(1.6); // heavy right tail
        let order_profit = 2000.0 + 6000.0 * level;
        // Better customers buy more often; a base rate of 4-20 % in the window.
        let base = (0.04 + 0.04 * level).min(0.2);
        // Last year's profit: about four windows' worth of their buying, with noise.
        let profit_before = (order_profit * base * 4.0 * rng.random_range(0.5..1.5)).round() as i64;
        let assigned = campaign.arm(0, customer);
        let treated = assigned != Assigned::Holdout;
        let p = if treated { base + truth.uplift } else { base };
        let converted = rng.random_bool(p.clamp(0.0, 1.0));
        let noise = rng.random_range(0.6..1.4);
        let profit = if converted {
            (order_profit * noise + if treated { truth.profit_shift } else { 0.0 }).round() as i64
        } else {
            0
        };
        // E[profit | treated] − E[profit | held out] for this customer.
        expected_lift += (base + truth.uplift) * (order_profit + truth.profit_shift) - base * order_profit;
        outcomes.push(Outcome {
            audience: 0,
            assigned,
            delivered: treated,
            clicked: treated && converted,
            converted,
            revenue: profit * 3,
            profit,
            profit_before,
            cost: if treated { truth.message_cost } else { 0 },
        });
    }
    Simulated {
        campaign,
        outcomes,
        conversion_lift: truth.uplift,
        profit_lift: expected_lift / truth.customers as f64,
    }
}
