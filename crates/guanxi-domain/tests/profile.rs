//! Golden tests on a small hand-checked shop: every class, each boundary on both sides,
//! and the explanations.

use chrono::{DateTime, Duration, TimeZone, Utc};
use guanxi_domain::profile::{
    self, Activity, Lifecycle, Measures, Population, Pricing, Quadrant, Relationship, Rfm8, Rfm11, Settings, Standing,
    Tier,
};
use guanxi_domain::{Cents, CustomerKey, Order, OrderKey, OrderLine, OrderStatus, ShopTz, Source, StatusTimes};

fn as_of() -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 6, 30, 12, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// A paid order `days` before the as-of moment, of `amount` yuan with `cost` yuan of goods.
fn bought(days: i64, amount: i64, cost: i64) -> Order {
    let t = as_of() - Duration::days(days);
    let src = Source::parse("t").unwrap();
    Order {
        key: OrderKey {
            source: src.clone(),
            external_id: format!("o{days}"),
        },
        customer: Some(CustomerKey {
            source: src,
            external_id: "c".into(),
        }),
        status: OrderStatus::Completed,
        created_at: t,
        times: StatusTimes {
            paid_at: Some(t),
            ..Default::default()
        },
        shipping_fee: Cents::ZERO,
        currency: None,
        coupon: None,
        campaign: None,
        province: None,
        city: None,
        lines: vec![OrderLine {
            sku: None,
            title: None,
            category: Some("diapers".into()),
            quantity: 1,
            amount: Cents(amount * 100),
            discount: Cents::ZERO,
            cost: Some(Cents(cost * 100)),
            refund: Cents::ZERO,
        }],
    }
}

fn measures(orders: &[Order]) -> Measures {
    Measures::of(orders, &[], &[], as_of(), ShopTz::default(), &Settings::default())
}

fn orders_at(days: &[i64]) -> Vec<Order> {
    days.iter().map(|d| bought(*d, 100, 50)).collect()
}

fn relationship(days: &[i64]) -> (Relationship, bool, String) {
    let c = profile::classify(
        &measures(&orders_at(days)),
        &Population::default(),
        Standing::default(),
        &Settings::default(),
    );
    (c.relationship.class, c.won_back, c.relationship.why)
}

#[test]
fn relationship_types_and_their_boundaries() {
    let s = Settings::default();
    let none = measures(&[]);
    let p = Population::default();
    let cls = |st: Standing| profile::classify(&none, &p, st, &s).relationship.class;
    assert_eq!(cls(Standing::default()), Relationship::NonCustomer);
    assert_eq!(
        cls(Standing {
            has_contact: true,
            ..Default::default()
        }),
        Relationship::Potential
    );
    assert_eq!(
        cls(Standing {
            has_contact: true,
            target: true,
            ..Default::default()
        }),
        Relationship::Target
    );
    assert_eq!(relationship(&[10]).0, Relationship::FirstTime);
    // Churn threshold max(365 days, 3 × own cycle): 365 days ago is not churned, 366 is.
    assert_eq!(relationship(&[365]).0, Relationship::FirstTime);
    let (class, _, why) = relationship(&[366]);
    assert_eq!(class, Relationship::Churned);
    assert_eq!(
        why,
        "churned: last paid order 366 days ago > 365 days (max(365 days, 3 × own cycle))"
    );
    // A 200-day cycle stretches the threshold to 600 days.
    assert_eq!(relationship(&[600, 800, 1000]).0, Relationship::Repeat);
    assert_eq!(relationship(&[601, 801, 1001]).0, Relationship::Churned);
    // Loyal: ≥ 4 paid orders in ≥ 3 distinct quarters of the last 24 months.
    let (class, _, why) = relationship(&[10, 20, 100, 200]);
    assert_eq!(class, Relationship::Loyal);
    assert_eq!(
        why,
        "loyal: 4 paid orders in 3 quarters of the last 24 months (≥ 4 in ≥ 3), last 10 days ago"
    );
    assert_eq!(
        relationship(&[10, 15, 20, 100]).0,
        Relationship::Repeat,
        "4 orders in 2 quarters"
    );
    assert_eq!(
        relationship(&[10, 100, 200]).0,
        Relationship::Repeat,
        "3 orders in 3 quarters"
    );
    // Won back: a gap longer than the churn threshold, then a purchase.
    let (class, won_back, why) = relationship(&[10, 700]);
    assert_eq!((class, won_back), (Relationship::Repeat, true));
    assert!(
        why.ends_with("won back after a gap longer than the churn threshold"),
        "{why}"
    );
    assert!(!relationship(&[10, 300]).1);
    // Blocked customers are non-customers whatever they bought.
    let blocked = profile::classify(
        &measures(&orders_at(&[10])),
        &p,
        Standing {
            blocked: true,
            ..Default::default()
        },
        &s,
    );
    assert_eq!(blocked.relationship.class, Relationship::NonCustomer);
}

#[test]
fn activity_against_the_shop_cycle_or_the_fallbacks() {
    let s = Settings::default();
    let shop = Population {
        shop_cycle_days: Some(30.0),
        ..Default::default()
    };
    let at = |days: i64, p: &Population| {
        profile::classify(&measures(&orders_at(&[days])), p, Standing::default(), &s)
            .activity
            .unwrap()
    };
    assert_eq!(at(30, &shop).class, Activity::Active);
    assert_eq!(at(31, &shop).class, Activity::Sleeping);
    assert_eq!(at(90, &shop).class, Activity::Sleeping);
    assert_eq!(at(91, &shop).class, Activity::Churned);
    assert_eq!(
        at(91, &shop).why,
        "churned: last paid order 91 days ago > 90 days (the shop's cycle of 30 days)"
    );
    let none = Population::default();
    assert_eq!(at(90, &none).class, Activity::Active);
    assert_eq!(at(91, &none).class, Activity::Sleeping);
    assert_eq!(at(365, &none).class, Activity::Sleeping);
    assert_eq!(at(366, &none).class, Activity::Churned);
}

#[test]
fn lifecycle_stages() {
    let s = Settings::default();
    let stage = |orders: &[Order]| {
        profile::classify(&measures(orders), &Population::default(), Standing::default(), &s)
            .lifecycle
            .unwrap()
    };
    assert_eq!(stage(&orders_at(&[5])).class, Lifecycle::Exploration);
    // Every 30 days, ten times: regular, spend steady → stability.
    let regular: Vec<i64> = (0..10).map(|i| 5 + 30 * i).collect();
    assert_eq!(stage(&orders_at(&regular)).class, Lifecycle::Stability);
    // Irregular intervals → formation.
    assert_eq!(stage(&orders_at(&[5, 10, 100])).class, Lifecycle::Formation);
    // Decline: last 180 days' spend below half the previous 180 days'.
    let mut falling = vec![bought(10, 499, 0), bought(200, 1000, 0)];
    assert_eq!(stage(&falling).class, Lifecycle::Decline);
    falling[0] = bought(10, 500, 0);
    assert_ne!(
        stage(&falling).class,
        Lifecycle::Decline,
        "exactly half is not below half"
    );
    // Decline when overdue by more than 2 × own cycle (30 days): 61 days yes, 60 no.
    let overdue: Vec<i64> = (0..6).map(|i| 61 + 30 * i).collect();
    let e = stage(&orders_at(&overdue));
    assert_eq!(e.class, Lifecycle::Decline);
    assert_eq!(e.why, "decline: last order 61 days ago > 2 × own cycle of 30 days");
    let on_time: Vec<i64> = (0..6).map(|i| 60 + 30 * i).collect();
    assert_ne!(stage(&orders_at(&on_time)).class, Lifecycle::Decline);
}

#[test]
fn quadrant_and_pricing() {
    let s = Settings::default();
    let p = Population {
        median_profit: Cents(10_000),
        top_profit: Cents(50_000),
        shop_cycle_days: None,
    };
    let classes = |orders: &[Order]| profile::classify(&measures(orders), &p, Standing::default(), &s);
    // Four active months, profit 4 × 101 = 404 yuan > 100: true friend.
    let friend: Vec<Order> = [5, 35, 65, 95].iter().map(|d| bought(*d, 151, 50)).collect();
    assert_eq!(classes(&friend).quadrant.unwrap().class, Quadrant::TrueFriend);
    // Three active months, irregular: not loyal. Profit 3 × 101 > 100: butterfly.
    let butterfly: Vec<Order> = [5, 35, 200].iter().map(|d| bought(*d, 151, 50)).collect();
    assert_eq!(classes(&butterfly).quadrant.unwrap().class, Quadrant::Butterfly);
    // Loyal but profit exactly the median (not above): barnacle.
    let barnacle: Vec<Order> = [5, 35, 65, 95].iter().map(|d| bought(*d, 75, 50)).collect();
    assert_eq!(measures(&barnacle).profit, Cents(10_000));
    assert_eq!(classes(&barnacle).quadrant.unwrap().class, Quadrant::Barnacle);
    assert_eq!(
        classes(&[bought(5, 20, 10)]).quadrant.unwrap().class,
        Quadrant::Stranger
    );
    // Pricing: 4 of 5 orders in a promotion is 80%: transaction-type; 3 of 5 is not.
    let mut orders: Vec<Order> = [5, 35, 65, 95, 125].iter().map(|d| bought(*d, 100, 50)).collect();
    for o in orders.iter_mut().take(4) {
        o.campaign = Some("double-11".into());
    }
    let e = classes(&orders).pricing.unwrap();
    assert_eq!(e.class, Pricing::TransactionType);
    assert_eq!(
        e.why,
        "transaction-type: 80% of orders with a discount ≥ 20% or in a promotion (≥ 80%)"
    );
    orders[3].campaign = None;
    let e = classes(&orders).pricing.unwrap();
    assert_eq!(e.class, Pricing::GrowthPotential, "{}", e.why);
    // A 20% line discount counts as deep; 19% does not.
    let mut deep = bought(5, 80, 10);
    deep.lines[0].discount = Cents(2000);
    assert_eq!(measures(&[deep.clone()]).discount_share, 1.0);
    deep.lines[0].discount = Cents(1876);
    assert_eq!(measures(&[deep]).discount_share, 0.0);
}

#[test]
fn ntile_is_sqls() {
    let keys: Vec<(i64, i64)> = (0..7).map(|i| (i, 10 * i)).collect();
    assert_eq!(profile::ntile(&keys, 5), vec![1, 1, 2, 2, 3, 4, 5]);
    // Ties are broken by id: all equal keys fill buckets in id order.
    let ties: Vec<(i64, i64)> = [(5, 1), (1, 1), (3, 1), (2, 1), (4, 1)].to_vec();
    assert_eq!(profile::ntile(&ties, 5), vec![5, 1, 3, 2, 4]);
}

#[test]
fn rfm_maps() {
    assert_eq!(profile::fm_score(3, 4), 4, "3.5 rounds half up");
    assert_eq!(profile::fm_score(1, 2), 2);
    assert_eq!(profile::fm_score(5, 5), 5);
    assert_eq!(Rfm11::from_scores(5, 1), Rfm11::New);
    assert_eq!(Rfm11::from_scores(5, 5), Rfm11::Champions);
    assert_eq!(Rfm11::from_scores(1, 1), Rfm11::Lost);
    assert_eq!(Rfm11::from_scores(1, 5), Rfm11::CantLoseThem);
    assert_eq!(Rfm11::from_scores(3, 2), Rfm11::NeedAttention);
    assert_eq!(Rfm11::from_scores(2, 3), Rfm11::AtRisk);
    assert_eq!(Rfm11::from_scores(4, 1), Rfm11::Promising);
    assert_eq!(Rfm8::from_highs(true, false, true), Rfm8::ImportantDevelop);
    assert_eq!(Rfm8::from_highs(false, false, false), Rfm8::GeneralRetain);
    // Three buyers: mean R = 40 days, F = 2, M = 200 yuan.
    let a = measures(&[bought(10, 300, 0), bought(20, 300, 0)]); // R 10, F 2, M 600
    let b = measures(&[bought(40, 100, 0)]); // R 40, F 1, M 100
    let c = measures(&[bought(70, 100, 0), bought(80, 100, 0), bought(90, 100, 0)]); // R 70, F 3, M 300
    let s = Settings::default();
    let r = profile::rfm(&[(1, &a), (2, &b), (3, &c)], &s);
    assert_eq!(
        r[0].rfm8,
        Rfm8::ImportantDevelop,
        "R high, F 2 not > 2, M high: {}",
        r[0].why
    );
    assert_eq!(r[1].rfm8, Rfm8::GeneralRetain, "R 40 is not below the mean 40");
    assert_eq!(r[2].rfm8, Rfm8::GeneralKeep, "M 300 is below the mean 333.33");
    let mut ge = s.clone();
    ge.rfm.comparison = profile::settings::Comparison::GreaterOrEqual;
    let r = profile::rfm(&[(1, &a), (2, &b), (3, &c)], &ge);
    assert_eq!(r[0].rfm8, Rfm8::ImportantValue, "with >=, F 2 ≥ 2 is high");
    assert_eq!(r[1].rfm8, Rfm8::GeneralDevelop, "with >=, R 40 ≤ 40 is high");
}

/// F and M rank the buyers who bought in the window; the others score 1. In a shop where
/// most buyers did not buy in the window, a recent first buyer with a small order is New
/// (ranked with everyone, the idle would fill F 1 and 2 and push them to F 2 or more).
#[test]
fn a_recent_first_buyer_is_new_however_many_buyers_are_idle() {
    let s = Settings::default();
    let idle = measures(&[bought(500, 100, 0)]);
    let newcomer = measures(&[bought(3, 50, 0)]);
    let regular = measures(&[bought(5, 300, 0), bought(40, 300, 0), bought(80, 300, 0)]);
    let mut buyers: Vec<(i64, &Measures)> = (0..6).map(|i| (i, &idle)).collect();
    buyers.push((6, &newcomer));
    buyers.extend((7..10).map(|i| (i, &regular)));
    let r = profile::rfm(&buyers, &s);
    assert_eq!((r[0].f, r[0].m), (1, 1), "no order in the window: {}", r[0].why);
    assert_eq!((r[6].r, r[6].f, r[6].m), (5, 1, 1), "{}", r[6].why);
    assert_eq!(r[6].rfm11, Rfm11::New, "{}", r[6].why);
    assert!(r[7..].iter().all(|x| x.f > 1 && x.m > 1));
}

#[test]
fn pyramid_shares_and_ties() {
    let s = Settings::default();
    let values: Vec<(i64, Cents)> = (0..100).map(|i| (i, Cents(i * 10))).collect();
    let tiers = profile::pyramid(&values, &s);
    let count = |t: Tier| tiers.iter().filter(|x| **x == t).count();
    assert_eq!(
        (
            count(Tier::Vip),
            count(Tier::Major),
            count(Tier::Ordinary),
            count(Tier::Small)
        ),
        (1, 4, 15, 80)
    );
    assert_eq!(tiers[99], Tier::Vip);
    assert_eq!(tiers[95], Tier::Major);
    assert_eq!(tiers[94], Tier::Ordinary);
    assert_eq!(tiers[79], Tier::Small);
    // Equal values: the lower id ranks first.
    let tied: Vec<(i64, Cents)> = (0..100).map(|i| (100 - i, Cents(5))).collect();
    let tiers = profile::pyramid(&tied, &s);
    assert_eq!(tiers[99], Tier::Vip, "id 1 is the last input");
}
