//! The profile build over the lake (by the engine of the build) computes exactly the measures the domain's
//! reference implementation computes from the same orders; and the classes follow.

mod common;

use common::{as_of, demo_shop};
use guanxi_analytics::Engine;
use guanxi_domain::ShopTz;
use guanxi_domain::profile::{Measures, Settings, Standing, Tier};
use guanxi_store::{Records, Store};

#[tokio::test]
async fn lake_measures_equal_the_domain_reference_on_the_demo_shop() {
    let mut shop = demo_shop(400).await;
    // Orders updated by a later import: the lake then holds two revisions of each, and
    // only the newest counts.
    let changed = common::change_orders(&mut shop.demo, 20);
    assert_eq!(common::load(&shop, changed).await.orders_updated, 20);
    let (store, lake, demo) = (&shop.store, &shop.lake, &shop.demo);

    let s = Settings::default();
    let tz = ShopTz::default();
    let engine = Engine::open(lake).await.unwrap();
    // Service records and reviews come from the store, grouped per customer.
    let mut with_extras = guanxi_analytics::People::default();
    for (id, f) in store.service_facts().await.unwrap() {
        with_extras.service.entry(id).or_default().push(f);
    }
    for (id, f) in store.review_facts().await.unwrap() {
        with_extras.reviews.entry(id).or_default().push(f);
    }
    assert!(!with_extras.service.is_empty() && !with_extras.reviews.is_empty());
    let lake_measures = guanxi_analytics::measures(&engine, as_of(), tz, &s, &with_extras)
        .await
        .unwrap();
    let mut expected = Vec::new();
    for c in demo {
        let m = Measures::of(&c.orders, &c.service, &c.reviews, as_of(), tz, &s);
        if m.paid_orders > 0 {
            let (id, _) = store.customer(&c.customer.key).await.unwrap().unwrap();
            expected.push((id, m));
        }
    }
    expected.sort_by_key(|(id, _)| *id);
    assert!(expected.len() > 300, "most demo customers bought");
    assert_eq!(lake_measures.len(), expected.len());
    for ((id, got), (want_id, want)) in lake_measures.iter().zip(&expected) {
        assert_eq!(id, want_id);
        assert_eq!(got, want, "customer {id}");
    }

    // A merged customer's orders count for the person they were merged into.
    let (a, b) = (expected[0].0, expected[1].0);
    let orders_of = |id: i64| {
        let c = demo.iter().find(|c| c.customer.key.external_id == format!("C{id:07}"));
        c.expect("demo ids follow store ids").orders.clone()
    };
    let both: Vec<_> = orders_of(a).into_iter().chain(orders_of(b)).collect();
    let merged = guanxi_analytics::measures(
        &engine,
        as_of(),
        tz,
        &s,
        &guanxi_analytics::People {
            merged_into: vec![(b, a)],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(merged.len(), expected.len() - 1);
    assert_eq!(merged[0], (a, Measures::of(&both, &[], &[], as_of(), tz, &s)));
    assert!(merged.iter().all(|(id, _)| *id != b));

    // People who bought nothing are profiled from their standing alone.
    let mut people = guanxi_analytics::People::default();
    people.standings.insert(a, Default::default());
    people
        .standings
        .insert(999_999, guanxi_domain::profile::Standing::from_tags(true, &[]));
    people.standings.insert(
        999_998,
        guanxi_domain::profile::Standing::from_tags(true, &["target".into()]),
    );
    let all = guanxi_analytics::measures(&engine, as_of(), tz, &s, &people)
        .await
        .unwrap();
    let with_people = guanxi_analytics::assemble(all, &people, as_of(), &s).into_build();
    let tail: Vec<(i64, String)> = with_people.profiles[lake_measures.len()..]
        .iter()
        .map(|p| (p.customer_id, p.classes.relationship.class.to_string()))
        .collect();
    assert_eq!(tail, vec![(999_998, "target".into()), (999_999, "potential".into())]);

    // Made a chunk at a time (as a build is stored), the profiles are the build's, in id
    // order, the people who bought nothing among the buyers.
    let mut everyone = guanxi_analytics::People::default();
    for (id, contact, tags) in store.standings().await.unwrap() {
        everyone.standings.insert(id, Standing::from_tags(contact, &tags));
    }
    let assembled = guanxi_analytics::assembled(&engine, as_of(), tz, &s, &everyone, None)
        .await
        .unwrap();
    let chunked: Vec<_> = assembled.chunks().flatten().collect();
    let mut whole = assembled.into_build().profiles;
    let last_buyer = whole
        .iter()
        .filter(|p| p.measures.paid_orders > 0)
        .map(|p| p.customer_id)
        .max();
    assert!(
        whole
            .iter()
            .any(|p| p.measures.paid_orders == 0 && Some(p.customer_id) < last_buyer),
        "someone who bought nothing between buyers"
    );
    whole.sort_by_key(|p| p.customer_id);
    assert_eq!(chunked, whole);

    let build = guanxi_analytics::assemble(lake_measures, &Default::default(), as_of(), &s).into_build();
    let n = build.profiles.len();
    let vip = build
        .profiles
        .iter()
        .filter(|p| p.tier.as_ref().map(|t| t.class) == Some(Tier::Vip))
        .count();
    assert_eq!(vip, (n as f64 * 0.01).round() as usize);
    assert!(build.key_customers_profit_share > 0.05 && build.key_customers_profit_share < 1.0);
    // Each profile as the build writes it to the lake's details reads back the same:
    // the customer page and the API read it typed.
    for p in &build.profiles {
        let text = serde_json::to_string(p).unwrap();
        let back: guanxi_analytics::CustomerProfile = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, p, "customer {}", p.customer_id);
    }
    assert_eq!(engine.last_order_at().await.unwrap().map(|t| t <= as_of()), Some(true));
}

#[tokio::test]
async fn an_empty_lake_builds_no_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(&guanxi_lake::Lake::new(dir.path())).await.unwrap();
    assert_eq!(engine.last_order_at().await.unwrap(), None);
    let b = guanxi_analytics::build(
        &engine,
        as_of(),
        ShopTz::default(),
        &Settings::default(),
        &Default::default(),
        None,
    )
    .await
    .unwrap();
    assert!(b.profiles.is_empty());
}
