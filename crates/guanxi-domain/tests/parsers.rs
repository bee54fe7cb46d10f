//! Every text parser of the domain takes any input — random characters, random bytes,
//! deep nesting — and answers with a value or an error: no panic, no stack overflow.

use guanxi_domain::profile::Settings;
use guanxi_domain::program::{Program, QuietHours};
use guanxi_domain::report::OrderReport;
use guanxi_domain::segment::parse;
use guanxi_domain::{
    Cents, DecimalMark, Email, Mobile, OrderStatus, Rating, ShopTz, Source, parse_date, parse_timestamp,
};
use proptest::prelude::*;

/// Text of every kind: any characters, bytes read as a file would be, and the symbols
/// the grammars are made of, repeated.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "[-+0-9.,:' ()=<>!a-zA-Z@年月日T/\\[\\]{}\"\n]{0,200}",
    ]
}

/// An opening and a closing symbol, nested `depth` deep around `inner`, maybe unbalanced.
fn nested() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(vec![("(", ")"), ("[", "]"), ("{a=", "}"), ("not (", ")"), ("a=[", "]")]),
        0usize..5000,
        0usize..5000,
        "[a-z0-9 =']{0,10}",
    )
        .prop_map(|((open, close), depth, closed, inner)| {
            format!("{}{inner}{}", open.repeat(depth), close.repeat(closed.min(depth)))
        })
}

fn every_parser(s: &str) {
    let _ = parse(s);
    for mark in [DecimalMark::Point, DecimalMark::Comma] {
        let _ = Cents::parse_with(s, mark);
        let _ = Cents::parse_non_negative(s, mark);
    }
    let _ = Cents::parse(s);
    let _ = parse_timestamp(s, ShopTz::default());
    let _ = parse_date(s);
    let _ = s.parse::<ShopTz>();
    let _ = Email::parse(s);
    let _ = Mobile::parse(s);
    let _ = Source::parse(s);
    let _ = OrderStatus::parse(s);
    let _ = Rating::parse(s);
    let _ = QuietHours::parse(s);
    let _ = OrderReport::parse(s);
    let _ = Program::parse(s, "random.toml");
    let _ = toml::from_str::<Settings>(s);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics_a_parser(s in text()) {
        every_parser(&s);
    }

    #[test]
    fn deep_nesting_never_overflows_a_parser(s in nested()) {
        every_parser(&s);
        // The segment parser says where it stopped: nesting beyond its limit is an error.
        if s.starts_with("((((((((((((((((((((((((((((((((((") {
            prop_assert!(parse(&s).is_err());
        }
    }
}

/// Program definitions are TOML: nesting in any value of a definition is bounded.
#[test]
fn a_program_nested_ten_thousand_deep_is_an_error() {
    for (open, close) in [("[", "]"), ("{a=", "}")] {
        let text = format!(
            "name = \"x\"\nsteps = {}{}\n",
            open.repeat(10_000),
            close.repeat(10_000)
        );
        assert!(Program::parse(&text, "deep.toml").is_err());
    }
}
