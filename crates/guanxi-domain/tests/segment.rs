//! Property tests of the segment language: printing then parsing gives the same tree, and
//! no text makes the parser panic.

use guanxi_domain::Channel;
use guanxi_domain::segment::{Attr, Behaviour, Cond, Expr, Kind, Number, Op, Value, parse};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Quotes, spaces, CJK and keywords inside text must survive the round trip.
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}",
        Just("it's".to_string()),
        Just("重要挽留 and or".to_string()),
        Just("''".to_string()),
    ]
}

fn value(attr: Attr) -> BoxedStrategy<Value> {
    match attr.kind() {
        Kind::Class(names) => proptest::sample::select(names)
            .prop_map(|n| Value::Text(n.to_string()))
            .boxed(),
        Kind::Text | Kind::Tag => text().prop_map(Value::Text).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::Integer => (-100_000i64..100_000)
            .prop_map(|v| Value::Number(Number::from_int(v)))
            .boxed(),
        Kind::Money => (-10_000_000i64..10_000_000)
            .prop_map(|c| Value::Number(Number(c * 100)))
            .boxed(),
        Kind::Decimal => (-10_000_000i64..10_000_000)
            .prop_map(|v| Value::Number(Number(v)))
            .boxed(),
    }
}

fn op() -> impl Strategy<Value = Op> {
    proptest::sample::select(Op::ALL.to_vec())
}

fn days() -> impl Strategy<Value = Option<u32>> {
    proptest::option::of(1u32..5000)
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        (proptest::option::of(text()), proptest::option::of(text()), days()).prop_map(
            |(category, sku, within_days)| {
                Behaviour::Bought {
                    category,
                    sku,
                    within_days,
                }
            }
        ),
        (
            proptest::option::of(text()),
            proptest::option::of(proptest::sample::select(Channel::ALL.to_vec())),
            days()
        )
            .prop_map(|(program, channel, within_days)| Behaviour::Received {
                program,
                channel,
                within_days
            }),
        (any::<bool>(), days()).prop_map(|(open, within_days)| Behaviour::Complaints { open, within_days }),
    ]
}

fn cond() -> impl Strategy<Value = Cond> {
    let attr = proptest::sample::select(Attr::ALL.to_vec());
    prop_oneof![
        attr.clone().prop_flat_map(|attr| {
            let ops = match attr.kind() {
                Kind::Integer | Kind::Decimal | Kind::Money => op().boxed(),
                _ => proptest::sample::select(vec![Op::Eq, Op::Ne]).boxed(),
            };
            (ops, value(attr)).prop_map(move |(op, value)| Cond::Compare { attr, op, value })
        }),
        attr.clone()
            .prop_filter("in takes no booleans", |a| a.kind() != Kind::Bool)
            .prop_flat_map(
                |attr| proptest::collection::vec(value(attr), 1..4).prop_map(move |values| Cond::In { attr, values })
            ),
        attr.prop_filter("between takes numbers", |a| matches!(
            a.kind(),
            Kind::Integer | Kind::Decimal | Kind::Money
        ))
        .prop_flat_map(
            |attr| (value(attr), value(attr)).prop_map(move |(low, high)| Cond::Between { attr, low, high })
        ),
        (behaviour(), op(), 0u32..1000).prop_map(|(behaviour, op, count)| Cond::Count { behaviour, op, count }),
        text()
            .prop_filter("segment names are not blank", |t| !t.trim().is_empty())
            .prop_map(Cond::InSegment),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    cond().prop_map(Expr::Cond).prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::Or(Box::new(l), Box::new(r))),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_then_parse_gives_the_same_tree(e in expr()) {
        let printed = e.to_string();
        let parsed = parse(&printed).map_err(|err| TestCaseError::fail(err.render(&printed, "printed")))?;
        prop_assert_eq!(parsed, e);
    }

    #[test]
    fn any_text_parses_or_fails_with_a_location_inside_it(s in "\\PC{0,60}") {
        match parse(&s) {
            Ok(e) => prop_assert_eq!(parse(&e.to_string()).ok(), Some(e)),
            Err(err) => {
                prop_assert!(err.offset <= s.len());
                prop_assert!(s.is_char_boundary(err.offset));
                let _ = err.render(&s, "segment");
            }
        }
    }

    #[test]
    fn mutated_valid_text_never_panics(e in expr(), cut in any::<prop::sample::Index>(), junk in "[()',=<>!a-z0-9 ]{1,3}") {
        let printed = e.to_string();
        let mut at = cut.index(printed.len() + 1);
        while !printed.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &printed[..at], junk, &printed[at..]);
        if let Err(err) = parse(&mutated) {
            prop_assert!(mutated.is_char_boundary(err.offset));
        }
    }
}
