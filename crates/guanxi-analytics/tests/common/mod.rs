//! The demo shop loaded into a store and its lake, as the tests over the lake need it.
// Each test binary uses part of this module.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use guanxi_demo::DemoCustomer;
use guanxi_import::{Batch, Loader, Pipe, Summary};
use guanxi_lake::Lake;
use guanxi_store::ImportRecord;
use guanxi_store_sqlite::SqliteStore;

/// 2026-06-30 23:59:59 in Shanghai (UTC+8, no daylight saving).
pub fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 30, 15, 59, 59).unwrap()
}

pub struct Shop {
    pub dir: tempfile::TempDir,
    pub store: SqliteStore,
    pub lake: Lake,
    pub demo: Vec<DemoCustomer>,
}

/// The record an import in these tests commits with.
pub fn record() -> ImportRecord {
    ImportRecord {
        kind: "t".into(),
        format: "t".into(),
        files: vec![],
        started_at: as_of(),
        finished_at: as_of(),
        summary: String::new(),
    }
}

/// `customers` demo customers with their orders, service records and reviews, imported.
pub async fn demo_shop(customers: u64) -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("g.db")).await.unwrap();
    let lake = Lake::new(dir.path().join("g.lake"));
    let cfg = guanxi_demo::DemoConfig {
        customers,
        ..Default::default()
    };
    let demo: Vec<_> = guanxi_demo::customers(&cfg).collect();
    let pipe = Pipe::start(Loader::begin(&store, &lake, "t").await.unwrap());
    pipe.send(Batch::Customers(demo.iter().map(|c| c.customer.clone()).collect()))
        .await
        .unwrap();
    pipe.send(Batch::Orders(demo.iter().flat_map(|c| c.orders.clone()).collect()))
        .await
        .unwrap();
    pipe.send(Batch::ServiceRecords(
        demo.iter().flat_map(|c| c.service.clone()).collect(),
    ))
    .await
    .unwrap();
    pipe.send(Batch::Reviews(demo.iter().flat_map(|c| c.reviews.clone()).collect()))
        .await
        .unwrap();
    let mut summary = Summary::default();
    let loader = pipe.finish(&mut summary).await.unwrap();
    loader.commit(&record(), &store, &lake, &mut summary).await.unwrap();
    Shop { dir, store, lake, demo }
}

/// Changes the second order of the first `n` customers with two orders or more (an amount
/// and a category), as a later import would: the lake then holds two revisions of each.
pub fn change_orders(demo: &mut [DemoCustomer], n: usize) -> Vec<guanxi_domain::Order> {
    let mut changed = Vec::new();
    for c in demo.iter_mut().filter(|c| c.orders.len() >= 2).take(n) {
        let o = &mut c.orders[1];
        o.lines[0].amount = o.lines[0].amount + guanxi_domain::Cents(12_345);
        o.lines[0].category = Some("updated".into());
        changed.push(o.clone());
    }
    assert_eq!(changed.len(), n);
    changed
}

/// Imports `orders` as a later import: returns what it did.
pub async fn load(shop: &Shop, orders: Vec<guanxi_domain::Order>) -> Summary {
    let pipe = Pipe::start(Loader::begin(&shop.store, &shop.lake, "t2").await.unwrap());
    pipe.send(Batch::Orders(orders)).await.unwrap();
    let mut summary = Summary::default();
    let loader = pipe.finish(&mut summary).await.unwrap();
    loader
        .commit(&record(), &shop.store, &shop.lake, &mut summary)
        .await
        .unwrap();
    summary
}
