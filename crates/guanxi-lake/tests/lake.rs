//! The lake keeps the newest revision of each order, publishes only what is published,
//! and compacts without losing a live row.

use chrono::DateTime;
use guanxi_domain::{Cents, CustomerKey, Order, OrderKey, OrderLine, OrderStatus, Source, StatusTimes};
use guanxi_lake::{Lake, LakeOrder};

fn order(id: &str, year_secs: i64, lines: usize) -> Order {
    let src = Source::parse("t").unwrap();
    Order {
        key: OrderKey {
            source: src.clone(),
            external_id: id.into(),
        },
        customer: Some(CustomerKey {
            source: src,
            external_id: "c".into(),
        }),
        status: OrderStatus::Paid,
        created_at: DateTime::from_timestamp(year_secs, 0).unwrap(),
        times: StatusTimes::default(),
        shipping_fee: Cents(0),
        currency: None,
        coupon: None,
        campaign: None,
        province: Some("浙江省".into()),
        city: None,
        lines: (0..lines)
            .map(|_| OrderLine {
                sku: None,
                title: None,
                category: Some("toys".into()),
                quantity: 1,
                amount: Cents(100),
                discount: Cents(0),
                cost: None,
                refund: Cents(0),
            })
            .collect(),
    }
}

const Y1997: i64 = 857_000_000;
const Y1998: i64 = 890_000_000;

fn append(lake: &Lake, label: &str, orders: &[(i64, i64, &Order)]) {
    let mut a = lake.appender(label).unwrap();
    for (id, rev, o) in orders {
        a.push(LakeOrder {
            id: *id,
            customer_id: Some(1),
            revision: *rev,
            order: o,
        })
        .unwrap();
    }
    a.finish().unwrap().publish(lake).unwrap();
}

#[test]
fn newest_revision_wins_and_compaction_keeps_live_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(dir.path());
    let a = order("a", Y1997, 3);
    let b = order("b", Y1998, 2);
    append(&lake, "one", &[(1, 1, &a), (2, 1, &b)]);
    let a2 = order("a", Y1997, 1);
    append(&lake, "two", &[(1, 2, &a2)]);
    let s = lake.stats().unwrap();
    assert_eq!((s.partitions, s.files, s.rows, s.live_rows, s.orders), (2, 3, 6, 3, 2));
    assert_eq!(
        lake.compact().unwrap(),
        1,
        "only 1997 has two files and a stale version"
    );
    let s = lake.stats().unwrap();
    assert_eq!((s.files, s.rows, s.live_rows, s.orders), (2, 3, 3, 2));
    assert_eq!(lake.compact().unwrap(), 0, "nothing left to compact");
}

#[test]
fn discarded_stages_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(dir.path());
    let a = order("a", Y1997, 2);
    let mut ap = lake.appender("x").unwrap();
    ap.push(LakeOrder {
        id: 1,
        customer_id: Some(1),
        revision: 1,
        order: &a,
    })
    .unwrap();
    ap.finish().unwrap().discard().unwrap();
    assert_eq!(lake.stats().unwrap(), Default::default());
}

#[test]
fn rebuild_replaces_everything() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(dir.path());
    let a = order("a", Y1997, 2);
    append(&lake, "one", &[(1, 1, &a), (1, 2, &a)]);
    let mut ap = lake.appender("rebuild").unwrap();
    ap.push(LakeOrder {
        id: 7,
        customer_id: Some(1),
        revision: 1,
        order: &a,
    })
    .unwrap();
    lake.replace_all(ap.finish().unwrap()).unwrap();
    let s = lake.stats().unwrap();
    assert_eq!((s.files, s.rows, s.orders), (1, 2, 1));
}
