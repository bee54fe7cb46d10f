//! The story tests every backend passes (after atuin's shared suite). A backend's test
//! file calls [`store_stories!`] with an expression that makes a fresh, empty store.

use chrono::{DateTime, Utc};
use guanxi_domain::{
    Cents, Channel, Consent, ConsentState, Contact, Customer, CustomerKey, Order, OrderKey, OrderLine, OrderStatus,
    Rating, Review, ServiceKind, ServiceRecord, ServiceStatus, Source, StatusTimes,
};

use crate::{Counts, Outcome, Store};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("a valid time")
}

fn src() -> Source {
    Source::parse("test").expect("a valid source")
}

fn customer_key(id: &str) -> CustomerKey {
    CustomerKey {
        source: src(),
        external_id: id.to_string(),
    }
}

/// An order of `n` lines, each 12.34 with a cost of 5.00.
pub fn order(id: &str, customer: &str, n: usize) -> Order {
    Order {
        key: OrderKey {
            source: src(),
            external_id: id.to_string(),
        },
        customer: customer_key(customer),
        status: OrderStatus::Paid,
        created_at: at(0),
        times: StatusTimes {
            paid_at: Some(at(60)),
            ..Default::default()
        },
        shipping_fee: Cents(800),
        currency: None,
        coupon: Some("DOUBLE11".into()),
        campaign: None,
        province: Some("浙江省".into()),
        city: Some("杭州市".into()),
        lines: (0..n)
            .map(|i| OrderLine {
                sku: Some(format!("SKU-{i}")),
                title: Some(format!("纸尿裤 L 码 {i}")),
                category: Some("diapers".into()),
                quantity: 1 + i as u32,
                amount: Cents(1234),
                discount: Cents(100),
                cost: Some(Cents(500)),
                refund: Cents::ZERO,
            })
            .collect(),
    }
}

async fn counts(store: &dyn Store) -> Counts {
    store.counts().await.expect("counts")
}

async fn upsert(store: &dyn Store, orders: &[Order]) -> Vec<Outcome> {
    let mut tx = store.begin().await.expect("begin");
    let r = tx.upsert_orders(orders).await.expect("upsert");
    tx.commit().await.expect("commit");
    r.outcomes
}

pub async fn orders_round_trip(store: &dyn Store) {
    let orders = vec![order("o1", "c1", 2), order("o2", "c1", 1), order("o3", "c2", 3)];
    let mut tx = store.begin().await.unwrap();
    let r = tx.upsert_orders(&orders).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(r.outcomes, vec![Outcome::Inserted; 3]);
    assert_eq!(r.customers_inserted, 2);
    assert_eq!(r.written.len(), 3);
    assert!(r.written.iter().all(|w| w.revision == 1));
    let c = counts(store).await;
    assert_eq!((c.customers, c.orders, c.order_lines), (2, 3, 6));
    let back = store.order(&orders[2].key).await.unwrap().expect("stored");
    assert_eq!(back.order, orders[2]);
    assert_eq!(back.revision, 1);
    let missing = OrderKey {
        source: src(),
        external_id: "nope".into(),
    };
    assert!(store.order(&missing).await.unwrap().is_none());
}

pub async fn reimport_changes_nothing(store: &dyn Store) {
    let orders = vec![order("o1", "c1", 2), order("o2", "c2", 1)];
    upsert(store, &orders).await;
    let before = counts(store).await;
    let mut tx = store.begin().await.unwrap();
    let r = tx.upsert_orders(&orders).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(r.outcomes, vec![Outcome::Unchanged; 2]);
    assert_eq!(r.customers_inserted, 0);
    assert!(r.written.is_empty());
    assert_eq!(counts(store).await, before);
    assert_eq!(store.order(&orders[0].key).await.unwrap().unwrap().revision, 1);
}

pub async fn update_replaces_lines_and_bumps_revision(store: &dyn Store) {
    upsert(store, &[order("o1", "c1", 3)]).await;
    let mut changed = order("o1", "c1", 1);
    changed.status = OrderStatus::Refunded;
    changed.times.refunded_at = Some(at(3600));
    changed.lines[0].refund = Cents(1234);
    assert_eq!(
        upsert(store, std::slice::from_ref(&changed)).await,
        vec![Outcome::Updated]
    );
    let back = store.order(&changed.key).await.unwrap().unwrap();
    assert_eq!(back.order, changed);
    assert_eq!(back.revision, 2);
    assert_eq!(counts(store).await.order_lines, 1);
}

pub async fn rollback_leaves_the_store_as_it_was(store: &dyn Store) {
    upsert(store, &[order("o1", "c1", 1)]).await;
    let before = counts(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.upsert_orders(&[order("o2", "c2", 2), order("o1", "c1", 5)])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(counts(store).await, before);
    // Dropping an uncommitted transaction rolls back as well.
    {
        let mut tx = store.begin().await.unwrap();
        tx.upsert_orders(&[order("o3", "c3", 2)]).await.unwrap();
    }
    assert_eq!(counts(store).await, before);
    assert_eq!(
        store
            .order(&order("o1", "c1", 1).key)
            .await
            .unwrap()
            .unwrap()
            .order
            .lines
            .len(),
        1
    );
}

pub async fn large_batches_round_trip(store: &dyn Store) {
    // More rows than one statement takes, so the chunking is exercised.
    let orders: Vec<Order> = (0..1500)
        .map(|i| order(&format!("o{i}"), &format!("c{}", i % 700), 2))
        .collect();
    let outcomes = upsert(store, &orders).await;
    assert_eq!(outcomes.len(), 1500);
    let c = counts(store).await;
    assert_eq!((c.customers, c.orders, c.order_lines), (700, 1500, 3000));
    let mut seen = 0;
    let mut after = 0;
    loop {
        let page = store.orders_after(after, 400).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        assert!(page.iter().all(|o| o.order.lines.len() == 2));
        seen += page.len();
    }
    assert_eq!(seen, 1500);
}

fn full_customer(id: &str) -> Customer {
    let mut c = Customer::bare(customer_key(id));
    c.name = Some("李娜".into());
    c.birthday = chrono::NaiveDate::from_ymd_opt(1990, 5, 17);
    c.mobile = Some(Contact::mobile("138-0013-8000"));
    c.email = Some(Contact::email("not an email"));
    c.province = Some("广东省".into());
    c.max_messages_per_week = Some(2);
    c.consents = vec![
        Consent {
            channel: Channel::Email,
            state: ConsentState::Denied,
            recorded_at: at(5),
            evidence: "import".into(),
        },
        Consent {
            channel: Channel::Sms,
            state: ConsentState::Granted,
            recorded_at: at(5),
            evidence: "import".into(),
        },
    ];
    c.tags = vec!["vip".into(), "宝妈".into()];
    c
}

pub async fn customers_keep_contacts_consent_and_tags(store: &dyn Store) {
    let c = full_customer("c1");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.upsert_customers(std::slice::from_ref(&c)).await.unwrap().outcomes,
        vec![Outcome::Inserted]
    );
    tx.commit().await.unwrap();
    let (_, back) = store.customer(&c.key).await.unwrap().expect("stored");
    assert_eq!(back, c);
    assert!(back.mobile.as_ref().unwrap().is_valid());
    assert!(
        !back.email.as_ref().unwrap().is_valid(),
        "an invalid email is kept, flagged"
    );
    // An order import later must not wipe what the customers import brought.
    upsert(store, &[order("o1", "c1", 1)]).await;
    assert_eq!(store.customer(&c.key).await.unwrap().unwrap().1, c);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.upsert_customers(std::slice::from_ref(&c)).await.unwrap().outcomes,
        vec![Outcome::Unchanged]
    );
    let mut fewer = c.clone();
    fewer.tags.pop();
    fewer.consents.pop();
    assert_eq!(
        tx.upsert_customers(std::slice::from_ref(&fewer))
            .await
            .unwrap()
            .outcomes,
        vec![Outcome::Updated]
    );
    tx.commit().await.unwrap();
    assert_eq!(store.customer(&c.key).await.unwrap().unwrap().1, fewer);
}

pub async fn service_records_and_reviews_upsert(store: &dyn Store) {
    let record = ServiceRecord {
        source: src(),
        external_id: "s1".into(),
        customer: customer_key("c9"),
        order_external_id: Some("o1".into()),
        kind: ServiceKind::Complaint,
        status: ServiceStatus::Open,
        opened_at: at(10),
        closed_at: None,
        satisfaction: None,
        cost: Cents(300),
        note: Some("物流太慢".into()),
    };
    let review = Review {
        source: src(),
        external_id: "r1".into(),
        customer: customer_key("c9"),
        order_external_id: Some("o1".into()),
        item_rating: Some(Rating::try_from(5).unwrap()),
        service_rating: Some(Rating::try_from(4).unwrap()),
        logistics_rating: None,
        text: Some("好评".into()),
        created_at: at(20),
    };
    let mut tx = store.begin().await.unwrap();
    let r = tx.upsert_service_records(std::slice::from_ref(&record)).await.unwrap();
    assert_eq!((r.outcomes.clone(), r.customers_inserted), (vec![Outcome::Inserted], 1));
    let r = tx.upsert_reviews(std::slice::from_ref(&review)).await.unwrap();
    assert_eq!((r.outcomes.clone(), r.customers_inserted), (vec![Outcome::Inserted], 0));
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.upsert_service_records(std::slice::from_ref(&record))
            .await
            .unwrap()
            .outcomes,
        vec![Outcome::Unchanged]
    );
    let mut closed = record.clone();
    closed.status = ServiceStatus::Closed;
    closed.closed_at = Some(at(99));
    assert_eq!(
        tx.upsert_service_records(&[closed]).await.unwrap().outcomes,
        vec![Outcome::Updated]
    );
    assert_eq!(
        tx.upsert_reviews(&[review]).await.unwrap().outcomes,
        vec![Outcome::Unchanged]
    );
    tx.commit().await.unwrap();
    let c = counts(store).await;
    assert_eq!((c.customers, c.service_records, c.reviews), (1, 1, 1));
}

pub async fn settings_and_import_history(store: &dyn Store) {
    assert_eq!(store.setting("shop.time_zone").await.unwrap(), None);
    store.set_setting("shop.time_zone", "Asia/Shanghai").await.unwrap();
    store.set_setting("shop.time_zone", "Europe/Berlin").await.unwrap();
    assert_eq!(
        store.setting("shop.time_zone").await.unwrap().as_deref(),
        Some("Europe/Berlin")
    );
    let record = crate::ImportRecord {
        kind: "orders".into(),
        format: "generic".into(),
        files: vec!["a.csv".into(), "b.csv".into()],
        started_at: at(0),
        finished_at: at(3),
        summary: "{}".into(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.record_import(&record).await.unwrap();
    tx.commit().await.unwrap();
    let history = store.imports().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].files, record.files);
    assert_eq!(history[0].finished_at, record.finished_at);
}

/// Expands to one `#[tokio::test]` per story; `$make` is an async expression giving a
/// fresh, empty store and a guard to hold while it is used (or `None` to skip, when the backend's server is not configured).
#[macro_export]
macro_rules! store_stories {
    ($make:expr) => {
        $crate::store_stories!(@each $make;
            orders_round_trip,
            reimport_changes_nothing,
            update_replaces_lines_and_bumps_revision,
            rollback_leaves_the_store_as_it_was,
            large_batches_round_trip,
            customers_keep_contacts_consent_and_tags,
            service_records_and_reviews_upsert,
            settings_and_import_history,
        );
    };
    (@each $make:expr; $($story:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $story() {
                // The guard keeps what the store lives in (a temporary directory) alive.
                if let Some((store, _guard)) = $make.await {
                    $crate::testsuite::$story(&store).await;
                }
            }
        )+
    };
}
