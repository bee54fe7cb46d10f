//! The `cluster` feature's engine (the scan as an Apache DataFusion plan) gives exactly
//! what the default single-machine scan gives: every profile (measures, classes,
//! forecasts), the population, the reports and the purchases, on a demo shop with
//! updated orders, merged customers and guest orders.
#![cfg(feature = "cluster")]

mod common;

use common::{as_of, demo_shop};
use guanxi_analytics::{Engine, People, ReportsBasis};
use guanxi_domain::ShopTz;
use guanxi_domain::profile::Settings;
use guanxi_domain::report::Granularity;
use guanxi_store::{Records, Store};

#[tokio::test]
async fn the_datafusion_plan_and_the_single_machine_scan_give_the_same_build() {
    let mut shop = demo_shop(400).await;
    // Updated orders (two revisions in the lake) and guest orders (no buyer).
    let mut changed = common::change_orders(&mut shop.demo, 20);
    for c in shop.demo.iter().take(5) {
        let mut guest = c.orders[0].clone();
        guest.key.external_id += "-guest";
        guest.customer = None;
        changed.push(guest);
    }
    let summary = common::load(&shop, changed).await;
    assert_eq!((summary.orders_updated, summary.orders_inserted), (20, 5));
    let (store, lake, demo) = (&shop.store, &shop.lake, &shop.demo);

    // Two customers merged into others: their orders count for the person.
    let ids: Vec<i64> = {
        let mut v = Vec::new();
        for c in demo.iter().take(4) {
            v.push(store.customer(&c.customer.key).await.unwrap().unwrap().0);
        }
        v
    };
    let mut people = People {
        merged_into: vec![(ids[1], ids[0]), (ids[3], ids[2])],
        ..People::default()
    };
    for (id, _, _) in store.standings().await.unwrap() {
        people.standings.insert(id, Default::default());
    }
    for (id, f) in store.service_facts().await.unwrap() {
        people.service.entry(id).or_default().push(f);
    }

    let (s, tz) = (Settings::default(), ShopTz::default());
    let lean = Engine::open_files(lake).unwrap();
    let plan = Engine::open_datafusion(lake).await.unwrap();
    assert_eq!(lean.last_order_at().await.unwrap(), plan.last_order_at().await.unwrap());
    assert!(lean.last_order_at().await.unwrap().is_some());

    let basis = ReportsBasis::of(lake, &people.merged_into, tz, s.cycle.occasion_gap()).unwrap();
    let a = guanxi_analytics::build(&lean, as_of(), tz, &s, &people, Some(basis.clone()))
        .await
        .unwrap();
    let b = guanxi_analytics::build(&plan, as_of(), tz, &s, &people, Some(basis))
        .await
        .unwrap();
    // The shop's reports from the build's pass, order figures (guests' orders, updated
    // orders) included.
    let (x, y) = (a.reports.as_ref().unwrap(), b.reports.as_ref().unwrap());
    assert!(x.figures(Granularity::Month).unwrap().iter().any(|p| p.guest > 0));
    assert_eq!(x, y);
    assert!(a.profiles.len() > 300, "{}", a.profiles.len());
    assert_eq!(a.population, b.population);
    assert_eq!(a.key_customers_profit_share, b.key_customers_profit_share);
    assert_eq!(a.prediction.is_ok(), b.prediction.is_ok());
    assert_eq!(a.profiles.len(), b.profiles.len());
    for (x, y) in a.profiles.iter().zip(&b.profiles) {
        assert_eq!(x, y, "customer {}", x.customer_id);
    }
    for g in [Granularity::Month, Granularity::Quarter] {
        let gap = chrono::Duration::hours(24);
        let x = guanxi_analytics::order_reports(&lean, as_of(), tz, &people.merged_into, g, gap)
            .await
            .unwrap();
        let y = guanxi_analytics::order_reports(&plan, as_of(), tz, &people.merged_into, g, gap)
            .await
            .unwrap();
        assert_eq!(x, y);
    }
    let x = guanxi_analytics::purchases(&lean, as_of(), tz, &people.merged_into)
        .await
        .unwrap();
    let y = guanxi_analytics::purchases(&plan, as_of(), tz, &people.merged_into)
        .await
        .unwrap();
    assert_eq!(x, y);
}
