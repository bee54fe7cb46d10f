//! The campaign report's intervals against campaigns whose true effect is known: over
//! 100 seeds each 95 % interval must contain the truth in at least 90, and CUPED (last
//! year's profit as the covariate) must narrow the profit interval on average.

use guanxi_demo::campaign::{Truth, simulate};
use guanxi_domain::campaign::{Verdict, report};

const SEEDS: u64 = 100;

fn coverage(truth: Truth) -> (u32, u32, f64, f64, u32) {
    let (mut conversion, mut profit, mut width, mut width_plain, mut earned) = (0, 0, 0.0, 0.0, 0);
    for seed in 0..SEEDS {
        let s = simulate(seed, truth);
        let rows = report(&s.campaign, &s.outcomes);
        let row = rows.last().expect("the audience's row");
        let c = row.conversion_lift.expect("both arms");
        if c.low <= s.conversion_lift && s.conversion_lift <= c.high {
            conversion += 1;
        }
        let p = row.profit_lift.expect("both arms");
        if p.low <= s.profit_lift && s.profit_lift <= p.high {
            profit += 1;
        }
        let plain = row.profit_lift_unadjusted.expect("both arms");
        width += p.high - p.low;
        width_plain += plain.high - plain.low;
        if row.verdict == Verdict::Earned {
            earned += 1;
        }
    }
    (
        conversion,
        profit,
        width / SEEDS as f64,
        width_plain / SEEDS as f64,
        earned,
    )
}

#[test]
fn intervals_contain_the_true_effect_in_at_least_90_of_100_campaigns() {
    for truth in [
        Truth::default(),
        // No effect at all: the intervals must still cover zero.
        Truth {
            uplift: 0.0,
            profit_shift: 0.0,
            ..Truth::default()
        },
        // A tiny shop: 400 customers, 20 % held out.
        Truth {
            customers: 400,
            holdout: 0.2,
            ..Truth::default()
        },
    ] {
        let (conversion, profit, width, width_plain, earned) = coverage(truth);
        eprintln!(
            "{truth:?}: conversion lift covered {conversion}/{SEEDS}, profit per head {profit}/{SEEDS}; \
             mean profit interval width {:.0} cents with CUPED, {:.0} without; verdict 'earned' in {earned}",
            width, width_plain
        );
        assert!(conversion >= 90, "conversion lift covered in {conversion} of {SEEDS}");
        assert!(profit >= 90, "profit per head lift covered in {profit} of {SEEDS}");
        assert!(width < width_plain, "CUPED narrows: {width} against {width_plain}");
        if truth.uplift == 0.0 {
            // With no effect and a message cost, 'earned' is a false claim: rare.
            assert!(
                earned <= 5,
                "earned claimed in {earned} of {SEEDS} campaigns without effect"
            );
        }
    }
}
