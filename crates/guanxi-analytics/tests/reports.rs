//! Order reports over the lake equal the domain's accumulator fed the same orders, and
//! their JSON is pinned by a snapshot of the demo shop.

mod common;

use common::{as_of, demo_shop};
use guanxi_analytics::{Engine, GRANULARITIES, ReportsBasis, current_shop_reports, kept_shop_reports};
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

#[tokio::test]
async fn the_shop_reports_are_kept_beside_the_lake_until_it_changes() {
    let mut shop = demo_shop(300).await;
    // Guest orders (no buyer) count in the order figures, never in the reports.
    let guests: Vec<guanxi_domain::Order> = shop
        .demo
        .iter()
        .take(5)
        .map(|c| {
            let mut guest = c.orders[0].clone();
            guest.key.external_id += "-guest";
            guest.customer = None;
            guest
        })
        .collect();
    common::load(&shop, guests).await;
    let tz = ShopTz::default();
    let gap = guanxi_domain::profile::Cycle::default().occasion_gap();
    let basis = ReportsBasis::of(&shop.lake, &[], tz, gap).unwrap();
    assert_eq!(kept_shop_reports(&shop.lake, &basis).unwrap(), None, "nothing kept yet");
    let r = current_shop_reports(&shop.lake, tz, basis.clone())
        .await
        .unwrap()
        .unwrap();
    // The reports are those as of the last order, at every granularity, and the order
    // figures over the lake are the store's (every order: guests', unpaid ones).
    let engine = Engine::open(&shop.lake).await.unwrap();
    let last = engine.last_order_at().await.unwrap().unwrap();
    for g in GRANULARITIES {
        let want = guanxi_analytics::order_reports(&engine, last, tz, &[], g, gap)
            .await
            .unwrap();
        assert_eq!(r.reports(g), Some(&want), "{g:?}");
        let store_figures = guanxi_store::tables::order_figures(&shop.store, tz, g).await.unwrap();
        assert_eq!(r.figures(g), Some(store_figures.as_slice()), "{g:?}");
    }
    let month = r.figures(Granularity::Month).unwrap();
    assert_eq!(month.iter().map(|p| p.guest).sum::<u64>(), 5);
    assert!(month.iter().any(|p| p.paid < p.created), "unpaid orders count");
    assert_eq!(
        kept_shop_reports(&shop.lake, &basis).unwrap().as_ref(),
        Some(&r),
        "kept"
    );
    // The same lake named through a link (moved, mounted elsewhere) keeps them.
    #[cfg(unix)]
    {
        let link = shop.lake.root().with_extension("link");
        std::os::unix::fs::symlink(shop.lake.root(), &link).unwrap();
        let through = guanxi_lake::Lake::new(&link);
        let basis_through = ReportsBasis::of(&through, &[], tz, gap).unwrap();
        assert_eq!(kept_shop_reports(&through, &basis_through).unwrap().as_ref(), Some(&r));
    }
    // Another basis (a merge, another cycle setting) does not take them.
    let merged = ReportsBasis::of(&shop.lake, &[(2, 1)], tz, gap).unwrap();
    assert_eq!(kept_shop_reports(&shop.lake, &merged).unwrap(), None);
    let other_gap = ReportsBasis::of(&shop.lake, &[], tz, gap * 2).unwrap();
    assert_eq!(kept_shop_reports(&shop.lake, &other_gap).unwrap(), None);
    // An import that changes orders makes them stale; computed again, they count.
    let changed = common::change_orders(&mut shop.demo, 3);
    common::load(&shop, changed).await;
    let after = ReportsBasis::of(&shop.lake, &[], tz, gap).unwrap();
    assert_ne!(after, basis);
    assert_eq!(kept_shop_reports(&shop.lake, &after).unwrap(), None);
    let again = current_shop_reports(&shop.lake, tz, after.clone())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(again.reports, r.reports, "the changed orders count");
    assert_eq!(kept_shop_reports(&shop.lake, &after).unwrap(), Some(again));
}

#[tokio::test]
async fn an_empty_lake_has_no_shop_reports() {
    let dir = tempfile::tempdir().unwrap();
    let lake = guanxi_lake::Lake::new(dir.path());
    let gap = guanxi_domain::profile::Cycle::default().occasion_gap();
    let basis = ReportsBasis::of(&lake, &[], ShopTz::default(), gap).unwrap();
    assert_eq!(
        current_shop_reports(&lake, ShopTz::default(), basis).await.unwrap(),
        None
    );
}
