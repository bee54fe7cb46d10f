//! The BG/NBD fit on the CDNOW sample reproduces the published estimates (Fader, Hardie
//! & Lee 2005; lifetimes' documentation): 2,357 customers, weeks, calibration to
//! 1997-09-30, repeat purchases only, same-day purchases merged.

use chrono::NaiveDate;
use guanxi_domain::clv::{
    BgNbd, GammaGamma, ParetoNbd, Period, Rft, Row, Summary, Variant, group, holdout, simulate_bgnbd, summary,
};

fn cdnow_sample() -> Vec<(String, NaiveDate, f64)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/CDNOW_sample.txt");
    let text = std::fs::read_to_string(path).expect("the CDNOW sample in shared/data");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                NaiveDate::parse_from_str(f[2], "%Y%m%d").expect("a date"),
                f[4].parse::<f64>().expect("an amount"),
            )
        })
        .collect()
}

fn close(got: f64, want: f64, digits: i32) -> bool {
    // Equal to `digits` significant digits.
    let scale = 10f64.powi(want.abs().log10().floor() as i32 - digits + 1);
    (got / scale).round() == (want / scale).round()
}

fn calibration() -> Vec<Summary<String>> {
    let end = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let s = summary(cdnow_sample(), end, Period::Day, Period::Week);
    assert_eq!(s.len(), 2357);
    s
}

fn calibration_rows() -> Vec<Row> {
    group(calibration().iter().map(|c| c.rft))
}

#[test]
fn bgnbd_reproduces_the_published_cdnow_estimates() {
    let rows = calibration_rows();
    let fit = BgNbd::fit(Variant::Bg, &rows).expect("a fit");
    let p = fit.params;
    assert!(close(p.r, 0.2426, 4), "r {}", p.r);
    assert!(close(p.alpha, 4.4136, 4), "alpha {}", p.alpha);
    assert!(close(p.a, 0.7929, 4), "a {}", p.a);
    assert!(close(p.b, 2.4259, 4), "b {}", p.b);
    assert!(
        (fit.log_likelihood - -9582.43).abs() < 0.01,
        "LL {}",
        fit.log_likelihood
    );
    let se = fit.std_errors.expect("standard errors");
    assert!(se.iter().all(|v| *v > 0.0 && v.is_finite()), "{se:?}");

    let who = Rft {
        x: 2.0,
        t_x: 30.43,
        t: 38.86,
    };
    assert!(
        close(p.expected_purchases(39.0, who), 1.2259, 4),
        "{}",
        p.expected_purchases(39.0, who)
    );
    assert!(close(p.p_alive(who), 0.7266, 4), "{}", p.p_alive(who));
}

#[test]
fn mbgnbd_reproduces_the_published_cdnow_estimates() {
    let fit = BgNbd::fit(Variant::Mbg, &calibration_rows()).expect("a fit");
    let p = fit.params;
    assert!(close(p.r, 0.5248, 4), "r {}", p.r);
    assert!(close(p.alpha, 6.1831, 4), "alpha {}", p.alpha);
    assert!(close(p.a, 0.8914, 4), "a {}", p.a);
    assert!(close(p.b, 1.6140, 4), "b {}", p.b);
}

#[test]
fn gamma_gamma_reproduces_the_published_cdnow_estimates() {
    let data: Vec<(f64, f64, f64)> = calibration().iter().map(|c| (c.rft.x, c.monetary, 1.0)).collect();
    let fit = GammaGamma::fit(&data).expect("a fit");
    assert_eq!(fit.customers, 946.0, "customers with repeat purchases");
    let p = fit.params;
    assert!(close(p.p, 6.2496, 4), "p {}", p.p);
    assert!(close(p.q, 3.7442, 4), "q {}", p.q);
    assert!(close(p.gamma, 15.4435, 4), "gamma {}", p.gamma);
}

#[test]
fn pareto_nbd_reproduces_the_published_cdnow_estimates() {
    let fit = ParetoNbd::fit(&calibration_rows()).expect("a fit");
    let p = fit.params;
    assert!(close(p.r, 0.5533, 4), "r {}", p.r);
    assert!(close(p.alpha, 10.5777, 4), "alpha {}", p.alpha);
    assert!(close(p.s, 0.6062, 4), "s {}", p.s);
    assert!(close(p.beta, 11.6677, 4), "beta {}", p.beta);
    assert!(
        (fit.log_likelihood - -9594.98).abs() < 0.01,
        "LL {}",
        fit.log_likelihood
    );
}

#[test]
fn the_holdout_period_holds_1882_repeat_purchases() {
    let cal = calibration();
    let end = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let holdout_end = NaiveDate::from_ymd_opt(1998, 6, 30).unwrap();
    let actual = holdout(
        &cal,
        cdnow_sample().into_iter().map(|(k, d, _)| (k, d)),
        end,
        holdout_end,
        Period::Day,
    );
    assert_eq!(actual.iter().sum::<f64>(), 1882.0);
}

/// Customers simulated from BG/NBD and MBG/NBD with known parameters: the fits recover
/// them.
#[test]
fn fits_recover_the_parameters_they_were_simulated_with() {
    use rand::SeedableRng;
    for variant in [Variant::Bg, Variant::Mbg] {
        let truth = BgNbd {
            variant,
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let rfts = simulate_bgnbd(&truth, 30_000, 30.0..80.0, &mut rng).expect("valid parameters");
        let p = BgNbd::fit(variant, &group(rfts)).expect("a fit").params;
        for (got, want, name) in [
            (p.r, truth.r, "r"),
            (p.alpha, truth.alpha, "alpha"),
            (p.a, truth.a, "a"),
            (p.b, truth.b, "b"),
        ] {
            assert!((got - want).abs() / want < 0.15, "{variant:?} {name}: {got} vs {want}");
        }
    }
}
