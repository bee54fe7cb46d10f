//! Order reports over the lake equal the domain's accumulator fed the same orders, and
//! their JSON is pinned by a snapshot of the demo shop.

mod common;

use common::{as_of, demo_shop};
use guanxi_analytics::Engine;
use guanxi_domain::ShopTz;
use guanxi_domain::profile::OrderFact;
use guanxi_domain::report::{Granularity, OrderReports};

#[tokio::test]
async fn order_reports_over_the_lake_equal_the_domain_reference() {
    let shop = demo_shop(300).await;
    let engine = Engine::open(&shop.lake).await.unwrap();
    let tz = ShopTz::default();
    let gap = guanxi_domain::profile::Cycle::default().occasion_gap();
    for g in [Granularity::Month, Granularity::Quarter, Granularity::Year] {
        let got = guanxi_analytics::order_reports(&engine, as_of(), tz, &[], g, gap)
            .await
            .unwrap();
        let mut want = OrderReports::new(as_of(), tz, g);
        for c in &shop.demo {
            let facts: Vec<OrderFact> = c.orders.iter().filter_map(OrderFact::of).collect();
            want.add(&facts);
        }
        assert_eq!(got, want.finish(), "{g:?}");
    }
    let yearly = guanxi_analytics::order_reports(&engine, as_of(), tz, &[], Granularity::Year, gap)
        .await
        .unwrap();
    assert!(yearly.customers > 200 && yearly.orders > yearly.customers);
    // Every cohort's first month holds all its customers; the cohorts hold every buyer.
    assert!(
        yearly
            .cohorts
            .iter()
            .all(|c| c.active[0] == c.customers && c.share[0] == 1.0)
    );
    assert_eq!(
        yearly.cohorts.iter().map(|c| c.customers).sum::<u64>(),
        yearly.customers
    );
    insta::assert_json_snapshot!("demo_300_yearly", yearly);
}
