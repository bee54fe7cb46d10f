//! The story tests every backend passes (after atuin's shared suite). A backend's test
//! file calls [`store_stories!`] with an expression that makes a fresh, empty store.

use chrono::{DateTime, Utc};
use guanxi_domain::{
    Cents, Channel, Consent, ConsentState, Contact, Customer, CustomerKey, Order, OrderKey, OrderLine, OrderStatus,
    Rating, Review, ServiceKind, ServiceRecord, ServiceStatus, Source, StatusTimes,
};

use crate::{Counts, EventCursor, Outcome, Store};

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
        customer: Some(customer_key(customer)),
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

/// A delivery (source, event id) is recorded once: a repeat is told apart, and a
/// delivery recorded in a transaction rolled back was not received.
pub async fn a_delivery_is_applied_once(store: &dyn Store) {
    let event = |id: &str| crate::ReceivedEvent {
        source: "shopify".into(),
        event_id: id.into(),
        topic: "orders/create".into(),
        received_at: at(0),
        order: Some(("8209".into(), format!("#{id}"))),
    };
    let mut tx = store.begin().await.unwrap();
    assert!(tx.record_event(&event("e1")).await.unwrap());
    assert!(
        !tx.record_event(&event("e1")).await.unwrap(),
        "a repeat in one transaction"
    );
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.record_event(&event("e1")).await.unwrap(), "a repeat later");
    assert!(tx.record_event(&event("e2")).await.unwrap());
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.record_event(&event("e2")).await.unwrap(),
        "the rolled-back delivery was not kept"
    );
    // The same id from another source is another delivery.
    let mut other = event("e1");
    other.source = "erp".into();
    assert!(tx.record_event(&other).await.unwrap());
    tx.commit().await.unwrap();
    // The platform's id of an order finds its key, per source.
    assert_eq!(
        store.order_of_platform_id("shopify", "8209").await.unwrap().as_deref(),
        Some("#e1")
    );
    assert_eq!(store.order_of_platform_id("shopify", "1").await.unwrap(), None);
    assert_eq!(store.order_of_platform_id("other", "8209").await.unwrap(), None);
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

/// Holding a key: again in the same transaction, and again after it ends, never waits
/// for itself. (That another transaction waits for a held key is PostgreSQL's own test:
/// on SQLite a second writer cannot begin at all while one writes.)
pub async fn a_held_key_is_held_until_the_transaction_ends(store: &dyn Store) {
    let mut first = store.begin().await.unwrap();
    first.hold("shopify:#1").await.unwrap();
    first.hold("shopify:#1").await.unwrap();
    first.hold("shopify:#2").await.unwrap();
    first.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.hold("shopify:#1").await.unwrap();
    tx.rollback().await.unwrap();
}

/// A privacy erasure: the record keeps its id, its orders and their money; its key is
/// the anonymous one, its contacts, tags and consents are gone; the old key finds no one.
pub async fn an_erased_customer_keeps_its_id_and_orders_and_nothing_personal(store: &dyn Store) {
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[full_customer("c1"), full_customer("c2")])
        .await
        .unwrap();
    tx.upsert_orders(&[order("o1", "c1", 2)]).await.unwrap();
    tx.commit().await.unwrap();
    let (id, _) = store.customer(&customer_key("c1")).await.unwrap().unwrap();
    let before = counts(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.erase_customer(id, "erased-1").await.unwrap();
    tx.commit().await.unwrap();
    let c = store.customer_by_id(id).await.unwrap().unwrap();
    assert_eq!(c.key.external_id, "erased-1");
    assert_eq!((c.name, c.birthday, c.mobile, c.email), (None, None, None, None));
    assert!(c.consents.is_empty() && c.tags.is_empty());
    assert_eq!(
        c.province.as_deref(),
        Some("广东省"),
        "the region stays for the shop's reports"
    );
    assert_eq!(store.customer(&customer_key("c1")).await.unwrap(), None);
    assert_eq!(counts(store).await, before, "no record and no order lost");
    let o = store.order(&order("o1", "c1", 2).key).await.unwrap().unwrap();
    assert_eq!(o.customer_id, Some(id));
    // The other customer is untouched.
    let (_, other) = store.customer(&customer_key("c2")).await.unwrap().unwrap();
    assert_eq!(other, full_customer("c2"));
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
    // The cursor-paged lists: the updated record as it now is, then nothing after it.
    let listed = store.service_records_after(0, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    let (id, customer, s) = &listed[0];
    assert_eq!(
        (s.kind.as_str(), s.status.as_str(), s.closed_at),
        ("complaint", "closed", Some(at(99)))
    );
    assert_eq!(s.note.as_deref(), Some("物流太慢"));
    assert!(store.service_records_after(*id, 10).await.unwrap().is_empty());
    let reviews = store.reviews_after(0, 10).await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        (reviews[0].1, reviews[0].2.item_rating, reviews[0].2.text.as_deref()),
        (*customer, Some(5), Some("好评"))
    );
    assert!(store.reviews_after(reviews[0].0, 10).await.unwrap().is_empty());
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

/// A stored profile with the given classes (`""` for none) and measures.
fn profile_row(id: i64, classes: [&str; 8], paid_orders: i64, profit: i64) -> crate::ProfileRow {
    crate::ProfileRow {
        customer_id: id,
        classes: classes.map(|c| (!c.is_empty()).then(|| c.to_string())),
        r: Some(3),
        recency_days: (paid_orders > 0).then_some(10),
        paid_orders,
        frequency: paid_orders,
        paid_amount_cents: profit * 2,
        profit_cents: profit,
        ..Default::default()
    }
}

fn build(as_of: DateTime<Utc>) -> crate::BuildRecord {
    crate::BuildRecord {
        id: 0,
        as_of,
        built_at: as_of,
        customers: 0,
        transitions: 0,
        summary: "{}".into(),
    }
}

async fn id_of(store: &dyn Store, customer: &str) -> i64 {
    store
        .customer_id(&customer_key(customer))
        .await
        .unwrap()
        .expect("known customer")
}

const LOYAL: [&str; 8] = [
    "loyal",
    "active",
    "stability",
    "true-friend",
    "most-profitable",
    "vip",
    "重要价值",
    "Champions",
];
const SLIPPING: [&str; 8] = [
    "repeat",
    "sleeping",
    "decline",
    "butterfly",
    "losing-value",
    "major",
    "重要挽留",
    "At Risk",
];

pub async fn builds_record_class_transitions(store: &dyn Store) {
    upsert(store, &[order("o1", "a", 1), order("o2", "b", 1), order("o3", "c", 1)]).await;
    let (a, b, c) = (
        id_of(store, "a").await,
        id_of(store, "b").await,
        id_of(store, "c").await,
    );
    assert!(store.latest_build().await.unwrap().is_none());
    let first = store
        .save_build(
            &build(at(100)),
            &mut vec![profile_row(a, LOYAL, 5, 900), profile_row(b, LOYAL, 4, 800)].into_iter(),
        )
        .await
        .unwrap();
    assert_eq!(
        (first.customers, first.transitions),
        (2, 0),
        "the first build has nothing to compare with"
    );
    // a slips, b is gone (merged away), c is new.
    let second = store
        .save_build(
            &build(at(200)),
            &mut vec![profile_row(a, SLIPPING, 5, 900), profile_row(c, SLIPPING, 1, 50)].into_iter(),
        )
        .await
        .unwrap();
    assert!(second.id > first.id);
    assert_eq!(second.transitions, 8 + 8 + 8);
    assert_eq!(store.latest_build().await.unwrap().unwrap(), second);
    let moves = store.movements(None).await.unwrap();
    let lifecycle: Vec<(Option<&str>, Option<&str>, u64)> = moves
        .iter()
        .filter(|m| m.kind == "lifecycle")
        .map(|m| (m.from.as_deref(), m.to.as_deref(), m.customers))
        .collect();
    assert_eq!(
        lifecycle,
        vec![
            (None, Some("decline"), 1),
            (Some("stability"), None, 1),
            (Some("stability"), Some("decline"), 1)
        ]
    );
    assert!(
        store.movements(Some(at(200))).await.unwrap().is_empty(),
        "since is exclusive"
    );
    let history = store.customer_transitions(a).await.unwrap();
    assert_eq!(history.len(), 8);
    assert_eq!(
        (
            history[0].kind.as_str(),
            history[0].from.as_deref(),
            history[0].to.as_deref(),
            history[0].as_of
        ),
        ("relationship", Some("loyal"), Some("repeat"), at(200))
    );
    let e = guanxi_domain::segment::parse("paid_orders >= 0").unwrap();
    let current: Vec<i64> = store
        .segment_members(&e, at(200), 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(current, vec![a, c], "only the current build's profiles are kept");

    // Rows made as they are written: their summary replaces the record's; rows that could
    // not all be made store nothing.
    struct Made {
        rows: std::vec::IntoIter<crate::ProfileRow>,
        fails: bool,
    }
    impl crate::BuildRows for Made {
        fn next_row(&mut self) -> Option<crate::ProfileRow> {
            self.rows.next()
        }
        fn finish(&mut self) -> Result<Option<String>, String> {
            if self.fails {
                Err("the lake is full".into())
            } else {
                Ok(Some(r#"{"buyers":1}"#.into()))
            }
        }
    }
    let failed = store
        .save_build(
            &build(at(300)),
            &mut Made {
                rows: vec![profile_row(a, LOYAL, 6, 950)].into_iter(),
                fails: true,
            },
        )
        .await
        .unwrap_err();
    assert!(failed.to_string().contains("the lake is full"), "{failed}");
    assert_eq!(store.latest_build().await.unwrap().unwrap(), second, "nothing stored");
    assert_eq!(store.customer_transitions(a).await.unwrap().len(), 8);
    assert_eq!(
        store.segment_members(&e, at(300), 0, 10).await.unwrap().len(),
        2,
        "the profiles are the second build's"
    );
    let third = store
        .save_build(
            &build(at(300)),
            &mut Made {
                rows: vec![profile_row(a, SLIPPING, 6, 950)].into_iter(),
                fails: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(third.summary, r#"{"buyers":1}"#);
    assert_eq!(store.latest_build().await.unwrap().unwrap(), third);
}

/// The reports the store sums: class totals of the current build, the CLV distribution
/// of its forecasts, satisfaction up to an as-of.
pub async fn reports_sum_the_current_build(store: &dyn Store) {
    upsert(store, &[order("o1", "a", 1), order("o2", "b", 1), order("o3", "c", 1)]).await;
    let (a, b, c) = (
        id_of(store, "a").await,
        id_of(store, "b").await,
        id_of(store, "c").await,
    );
    let forecast = |mut row: crate::ProfileRow, clv: i64| {
        row.p_alive = Some(0.5);
        row.clv_cents = Some(clv);
        row
    };
    store
        .save_build(
            &build(at(100)),
            &mut vec![
                forecast(profile_row(a, LOYAL, 5, 900), 2_000),
                forecast(profile_row(b, LOYAL, 4, 800), 60_000),
                profile_row(c, SLIPPING, 1, 50),
            ]
            .into_iter(),
        )
        .await
        .unwrap();
    let totals = store.class_totals().await.unwrap();
    let loyal = totals
        .iter()
        .find(|t| t.kind == "relationship" && t.class == "loyal")
        .unwrap();
    assert_eq!(
        (
            loyal.customers,
            loyal.paid_amount_cents,
            loyal.profit_cents,
            loyal.clv_cents
        ),
        (2, 3_400, 1_700, 62_000)
    );
    let at_risk = totals
        .iter()
        .find(|t| t.kind == "rfm11" && t.class == "At Risk")
        .unwrap();
    assert_eq!((at_risk.customers, at_risk.clv_cents), (1, 0));
    assert_eq!(
        totals
            .iter()
            .filter(|t| t.kind == "tier")
            .map(|t| t.customers)
            .sum::<u64>(),
        3
    );

    let buckets = store.clv_distribution().await.unwrap();
    assert_eq!(buckets.len(), crate::CLV_BUCKETS.len());
    let counts: Vec<u64> = buckets.iter().map(|b| b.customers).collect();
    assert_eq!(counts, vec![0, 1, 0, 0, 1, 0, 0], "{buckets:?}");
    assert_eq!((buckets[4].from_cents, buckets[4].to_cents), (50_000, Some(100_000)));
    assert_eq!(buckets[6].to_cents, None);

    let mut tx = store.begin().await.unwrap();
    let complaint = ServiceRecord {
        source: src(),
        external_id: "s1".into(),
        customer: customer_key("a"),
        order_external_id: Some("o1".into()),
        kind: ServiceKind::Complaint,
        status: ServiceStatus::Closed,
        opened_at: at(70),
        closed_at: Some(at(80)),
        satisfaction: Some(Rating::try_from(2).unwrap()),
        cost: Cents(300),
        note: None,
    };
    let later = ServiceRecord {
        external_id: "s2".into(),
        opened_at: at(5_000),
        ..complaint.clone()
    };
    tx.upsert_service_records(&[complaint, later]).await.unwrap();
    let review = |id: &str, item: u8, created: i64| Review {
        source: src(),
        external_id: id.into(),
        customer: customer_key("b"),
        order_external_id: None,
        item_rating: Some(Rating::try_from(item).unwrap()),
        service_rating: None,
        logistics_rating: Some(Rating::try_from(4).unwrap()),
        text: None,
        created_at: at(created),
    };
    tx.upsert_reviews(&[review("r1", 5, 90), review("r2", 2, 95), review("r3", 1, 9_000)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let s = store.satisfaction(at(1_000)).await.unwrap();
    assert_eq!((s.paid_orders, s.reviews, s.complaints), (3, 2, 1));
    assert_eq!(s.item_rating, Some(3.5));
    assert_eq!((s.service_rating, s.logistics_rating), (None, Some(4.0)));
    assert!((s.complaint_rate - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(s.service_satisfaction, Some(2.0));
    let before = store.satisfaction(at(30)).await.unwrap();
    assert_eq!((before.paid_orders, before.reviews, before.complaint_rate), (0, 0, 0.0));
}

pub async fn segments_count_list_and_explain(store: &dyn Store) {
    let mut recent = order("o1", "a", 2);
    recent.created_at = at(1000);
    recent.times.paid_at = Some(at(1000));
    upsert(
        store,
        &[recent, order("o2", "a", 1), order("o3", "b", 1), order("o4", "c", 1)],
    )
    .await;
    let mut tagged = full_customer("b");
    tagged.tags = vec!["vip".into()];
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[tagged]).await.unwrap();
    tx.commit().await.unwrap();
    let (a, b, c) = (
        id_of(store, "a").await,
        id_of(store, "b").await,
        id_of(store, "c").await,
    );
    let as_of = at(86_400 + 500);
    store
        .save_build(
            &build(as_of),
            &mut vec![
                profile_row(a, LOYAL, 2, 900),
                profile_row(b, SLIPPING, 1, 500),
                profile_row(c, SLIPPING, 1, 100),
            ]
            .into_iter(),
        )
        .await
        .unwrap();
    let count = |text: &str| {
        let e = guanxi_domain::segment::parse(text).unwrap();
        async move { store.segment_count(&e, as_of).await.unwrap() }
    };
    assert_eq!(count("lifecycle = 'decline'").await, 2);
    assert_eq!(count("not lifecycle = 'decline'").await, 1);
    assert_eq!(count("lifecycle = 'decline' and profit >= 1.00").await, 2);
    assert_eq!(count("lifecycle = 'decline' and profit > 1.00").await, 1);
    assert_eq!(
        count("lifecycle = 'decline' and profit >= 1.00 and profit <= 4.99").await,
        1
    );
    assert_eq!(
        count("tier in ('vip', 'major') and paid_orders between 2 and 3").await,
        1
    );
    assert_eq!(count("tag = 'vip'").await, 1);
    assert_eq!(count("tag != 'vip'").await, 2);
    assert_eq!(count("province = '广东省'").await, 1);
    assert_eq!(count("bought(category = 'diapers') >= 2").await, 1);
    assert_eq!(
        count("bought(within = 1d)").await,
        1,
        "only a's order at 1000 s is within a day of as-of"
    );
    assert_eq!(count("bought(within = 2d)").await, 3);
    assert_eq!(count("bought(sku = 'SKU-1')").await, 1);
    // Every comparison of a count, those that hold for no behaviour at all too.
    for (text, n) in [
        ("bought() = 2", 1),
        ("bought() != 1", 1),
        ("bought() > 1", 1),
        ("bought() < 2", 2),
        ("bought() <= 1", 2),
        ("bought() >= 0", 3),
        ("bought() = 0", 0),
        ("bought() != 0", 3),
        ("bought() > 5", 0),
        ("bought() < 5", 3),
        ("bought(category = 'diapers') < 2", 2),
        ("bought(within = 1d) = 0", 2),
    ] {
        assert_eq!(count(text).await, n, "{text}");
    }
    assert_eq!(count("not received(within = 30d) and complaints(open) = 0").await, 3);
    // Members page by id.
    let e = guanxi_domain::segment::parse("relationship in ('loyal', 'repeat')").unwrap();
    let page = store.segment_members(&e, as_of, 0, 2).await.unwrap();
    assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a, b]);
    let rest = store.segment_members(&e, as_of, page[1].id, 2).await.unwrap();
    assert_eq!(rest.iter().map(|m| m.id).collect::<Vec<_>>(), vec![c]);
    assert_eq!(rest[0].external_id, "c");
    // The plan: per node, how many match; for a customer, which held.
    let e = guanxi_domain::segment::parse("lifecycle = 'decline' and not tag = 'vip'").unwrap();
    let plan = store.segment_plan(&e, as_of, Some(b)).await.unwrap();
    assert_eq!(plan.counts, vec![1, 2, 2, 1]);
    assert_eq!(plan.held, Some(vec![false, true, false, true]));
    // Saved segments.
    let saved = crate::SavedSegment {
        name: "slipping".into(),
        description: "在衰退期".into(),
        expression: "lifecycle = 'decline'".into(),
        created_at: at(1),
        updated_at: at(1),
    };
    store.save_segment(&saved).await.unwrap();
    let changed = crate::SavedSegment {
        expression: "lifecycle = 'decline' and r >= 3".into(),
        created_at: at(9),
        updated_at: at(9),
        ..saved.clone()
    };
    store.save_segment(&changed).await.unwrap();
    let all = store.segments().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].expression, changed.expression);
    assert_eq!(
        (all[0].created_at, all[0].updated_at),
        (at(1), at(9)),
        "created_at survives an update"
    );
    // Resolved once for every caller: a saved segment by its name, one named in an
    // expression inlined, errors located against the parameter or the saved segment.
    use crate::segment::{ResolveError, resolve};
    let by_name = resolve(store, "slipping", "q").await.unwrap();
    assert_eq!(by_name.text, "lifecycle = 'decline' and r >= 3");
    let nested = resolve(store, "in segment 'slipping' and not tag = 'vip'", "q")
        .await
        .unwrap();
    assert_eq!(nested.text, "in segment 'slipping' and not tag = 'vip'");
    assert_eq!(
        store.segment_count(&nested.expr, as_of).await.unwrap(),
        store
            .segment_count(
                &guanxi_domain::segment::parse("lifecycle = 'decline' and r >= 3 and not tag = 'vip'").unwrap(),
                as_of
            )
            .await
            .unwrap()
    );
    match resolve(store, "lifecycle = ", "q").await.unwrap_err() {
        e @ ResolveError::Syntax { .. } => {
            assert_eq!(e.code(), "segment_syntax");
            assert!(e.to_string().contains("q:1:"), "{e}");
        }
        e => panic!("{e:?}"),
    }
    let missing = resolve(store, "in segment 'nobody'", "q").await.unwrap_err();
    assert_eq!(missing.code(), "segment_reference", "{missing}");
    assert!(store.delete_segment("slipping").await.unwrap());
    assert!(!store.delete_segment("slipping").await.unwrap());
}

/// The build's profile columns count every profile-only expression as the store's SQL
/// does (missing values false, `not` their complement, money in cents, booleans), and
/// leave to the SQL what reads anything else.
pub async fn profile_columns_count_as_the_store(store: &dyn Store) {
    let orders: Vec<Order> = (0..40).map(|i| order(&format!("o{i}"), &format!("c{i}"), 1)).collect();
    upsert(store, &orders).await;
    let mut rows = Vec::new();
    for i in 0..40_i64 {
        let id = id_of(store, &format!("c{i}")).await;
        let classes = match i % 3 {
            0 => LOYAL,
            1 => SLIPPING,
            _ => ["new", "", "", "", "", "", "", ""],
        };
        let mut p = profile_row(id, classes, i % 5, i * 137 - 2000);
        p.r = (i % 4 != 0).then_some(i % 5 + 1);
        p.f = (i % 4 != 0).then_some((i * 7) % 5 + 1);
        p.cycle_days = (i % 3 == 0).then_some(i as f64 * 1.5);
        p.discount_share = (i % 10) as f64 / 10.0;
        p.won_back = i % 7 == 0;
        p.p_alive = (i % 2 == 0).then_some((i % 10) as f64 / 10.0);
        p.clv_cents = (i % 6 != 0).then_some(i * 1000);
        p.refunds_cents = i % 3 * 250;
        rows.push(p);
    }
    let as_of = at(86_400);
    store.save_build(&build(as_of), &mut rows.into_iter()).await.unwrap();
    let columns = store.profile_columns().await.unwrap().expect("a build");
    assert_eq!(columns.len(), 40);
    for text in [
        "relationship = 'loyal'",
        "relationship != 'loyal'",
        "lifecycle = 'decline'",
        "not lifecycle = 'decline'",
        "lifecycle != 'decline'",
        "tier in ('vip', 'major')",
        "not tier in ('vip', 'major')",
        "rfm11 = 'At Risk' or relationship = 'loyal' and profit > 5",
        "relationship = 'loyal' and profit > 5.00 or rfm11 = 'At Risk'",
        "profit >= -3.50 and profit < 20",
        "paid_orders between 1 and 3",
        "not paid_orders between 1 and 3",
        "r >= 3",
        "not r >= 3",
        "r = 2 and f in (1, 2, 3)",
        "recency_days <= 10",
        "cycle_days > 10",
        "not cycle_days > 10",
        "discount_share >= 0.5",
        "won_back = true",
        "won_back = false and upgrade_potential = false",
        "p_alive < 0.5",
        "p_alive between 0.2 and 0.6",
        "clv >= 100",
        "not clv >= 100",
        "refunds > 2.49",
        "paid_amount <= 10 and monetary = 0",
        "complaint_count = 0 and praise_count = 0",
        "(lifecycle = 'decline' or activity = 'active') and not (r <= 2 or p_alive > 0.7)",
    ] {
        let e = guanxi_domain::segment::parse(text).unwrap();
        let sql = store.segment_count(&e, as_of).await.unwrap();
        assert_eq!(columns.count(&e), Some(sql), "{text}");
        // And the members, in id order, are those the store pages through.
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = store.segment_members(&e, as_of, after, 7).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            paged.extend(page.iter().map(|m| m.id));
        }
        assert_eq!(columns.members(&e), Some(paged), "{text}");
    }
    for text in [
        "tag = 'vip'",
        "province = '广东省'",
        "source = 'taobao'",
        "bought(within = 30d) >= 1",
        "paid_orders >= 1 and tag != 'vip'",
    ] {
        let e = guanxi_domain::segment::parse(text).unwrap();
        assert_eq!(columns.count(&e), None, "{text}: not profile columns alone");
        assert_eq!(columns.members(&e), None, "{text}");
    }
}

/// The customers page's search and the 360 page's history: by id, external id, mobile
/// number, email or name prefix; orders with their items, service records and reviews,
/// newest first, with those of a customer merged in.
pub async fn search_and_history_find_a_customer(store: &dyn Store) {
    let mut li = full_customer("li");
    li.email = Some(Contact::email("li.na@example.com"));
    let mut wang = Customer::bare(customer_key("w-77"));
    wang.name = Some("王芳".into());
    let mut other = full_customer("li-2");
    other.name = Some("李娜娜".into());
    other.mobile = Some(Contact::mobile("13900000000"));
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[li.clone(), wang, other]).await.unwrap();
    tx.commit().await.unwrap();
    let mut late = order("o2", "li", 2);
    late.created_at = at(500);
    upsert(store, &[order("o1", "li", 1), late, order("o3", "li-2", 1)]).await;
    let (l, w, o) = (
        id_of(store, "li").await,
        id_of(store, "w-77").await,
        id_of(store, "li-2").await,
    );
    let found = |text: &str| {
        let search = crate::Search::parse(text).expect("a search");
        async move {
            let hits = store.search_customers(&search, 10).await.unwrap();
            hits.iter().map(|h| h.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(found("李娜").await, vec![l, o], "a name prefix");
    assert_eq!(found("李娜娜").await, vec![o]);
    assert_eq!(found("王").await, vec![w]);
    assert_eq!(found("w-77").await, vec![w], "an external id");
    assert_eq!(found(&format!("#{w}")).await, vec![w], "guanxi's id");
    assert_eq!(found("+86 138 0013 8000").await, vec![l], "a mobile number, normalised");
    assert_eq!(found("li.na@EXAMPLE.com").await, vec![l], "an email, normalised");
    assert_eq!(found("张").await, Vec::<i64>::new());

    let mut tx = store.begin().await.unwrap();
    tx.upsert_service_records(&[ServiceRecord {
        source: src(),
        external_id: "s1".into(),
        customer: customer_key("li-2"),
        order_external_id: Some("o3".into()),
        kind: ServiceKind::Complaint,
        status: ServiceStatus::Open,
        opened_at: at(40),
        closed_at: None,
        satisfaction: None,
        cost: Cents(0),
        note: Some("物流太慢".into()),
    }])
    .await
    .unwrap();
    tx.upsert_reviews(&[Review {
        source: src(),
        external_id: "r1".into(),
        customer: customer_key("li"),
        order_external_id: Some("o1".into()),
        item_rating: Some(Rating::try_from(5).unwrap()),
        service_rating: None,
        logistics_rating: None,
        text: Some("好评".into()),
        created_at: at(30),
    }])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    store.merge(l, o, "tester", at(600)).await.unwrap();
    assert_eq!(found("李娜").await, vec![l], "a merged-away record is not listed");

    let h = store.customer_history(l, 10).await.unwrap();
    let orders: Vec<(&str, &str)> = h
        .orders
        .iter()
        .map(|o| (o.external_id.as_str(), o.items.as_str()))
        .collect();
    assert_eq!(orders[0], ("o2", "纸尿裤 L 码 0, 纸尿裤 L 码 1 × 2"), "newest first");
    assert_eq!(orders.len(), 3, "with the merged customer's order: {orders:?}");
    assert!(h.orders.iter().all(|o| o.paid_cents > 0 && o.paid_at.is_some()));
    assert_eq!(h.service.len(), 1);
    assert_eq!(
        (h.service[0].kind.as_str(), h.service[0].note.as_deref()),
        ("complaint", Some("物流太慢"))
    );
    assert_eq!((h.reviews.len(), h.reviews[0].item_rating), (1, Some(5)));
    assert!(h.messages.is_empty());
    assert_eq!(
        store.customer_history(l, 1).await.unwrap().orders.len(),
        1,
        "the limit holds"
    );
    assert_eq!(store.customer_history(w, 10).await.unwrap(), crate::History::default());
}

pub async fn merge_keeps_the_most_restrictive_consent_and_unmerges(store: &dyn Store) {
    let mut kept = full_customer("k");
    kept.email = Some(Contact::email("li.na@example.com"));
    kept.wechat = None;
    let mut other = full_customer("mli@example.com");
    other.email = Some(Contact::email("li.na@Example.COM"));
    other.wechat = Some("lina_wx".into());
    other.consents = vec![
        Consent {
            channel: Channel::Sms,
            state: ConsentState::Denied,
            recorded_at: at(7),
            evidence: "replied TD".into(),
        },
        Consent {
            channel: Channel::Wechat,
            state: ConsentState::Granted,
            recorded_at: at(7),
            evidence: "mini program".into(),
        },
    ];
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[kept.clone(), other.clone(), full_customer("x")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    upsert(store, &[order("o1", "mli@example.com", 1)]).await;
    let (k, m, x) = (
        id_of(store, "k").await,
        id_of(store, "mli@example.com").await,
        id_of(store, "x").await,
    );
    let proposals = store.merge_proposals(10).await.unwrap();
    assert!(
        proposals.iter().any(|p| (p.a, p.b, p.via.as_str()) == (k, m, "email")),
        "{proposals:?}"
    );
    assert!(proposals.iter().any(|p| (p.a, p.b, p.via.as_str()) == (k, m, "mobile")));

    store.merge(k, m, "tester", at(50)).await.unwrap();
    let after = store.customer(&kept.key).await.unwrap().unwrap().1;
    let state = |ch: Channel| after.consents.iter().find(|c| c.channel == ch).map(|c| c.state);
    assert_eq!(
        state(Channel::Sms),
        Some(ConsentState::Denied),
        "a refusal on either record wins"
    );
    assert_eq!(state(Channel::Email), Some(ConsentState::Denied));
    assert_eq!(state(Channel::Wechat), Some(ConsentState::Granted));
    assert_eq!(
        after.wechat.as_deref(),
        Some("lina_wx"),
        "a contact the kept customer lacked is copied"
    );
    assert_eq!(
        after.email.as_ref().unwrap().raw,
        "li.na@example.com",
        "its own contacts stay"
    );
    assert_eq!(store.merged_into().await.unwrap(), vec![(m, k)]);
    assert_eq!(
        id_of(store, "mli@example.com").await,
        k,
        "the merged key finds the person"
    );
    assert!(!store.standings().await.unwrap().iter().any(|(id, ..)| *id == m));
    assert!(
        store
            .merge_proposals(10)
            .await
            .unwrap()
            .iter()
            .all(|p| p.b != m && p.a != m)
    );
    // Refusals leave everything as it was.
    assert!(matches!(
        store.merge(k, m, "tester", at(51)).await,
        Err(crate::StoreError::Refused(_))
    ));
    assert!(matches!(
        store.merge(m, x, "tester", at(51)).await,
        Err(crate::StoreError::Refused(_))
    ));
    assert!(matches!(
        store.merge(k, k, "tester", at(51)).await,
        Err(crate::StoreError::Refused(_))
    ));
    assert!(matches!(
        store.merge(k, 999_999, "tester", at(51)).await,
        Err(crate::StoreError::Refused(_))
    ));
    // Bought counts the merged customer's orders for the person.
    store
        .save_build(&build(at(86_400)), &mut vec![profile_row(k, LOYAL, 1, 10)].into_iter())
        .await
        .unwrap();
    for (text, n) in [("bought()", 1), ("bought() = 1", 1), ("bought() < 1", 0)] {
        let e = guanxi_domain::segment::parse(text).unwrap();
        assert_eq!(store.segment_count(&e, at(86_400)).await.unwrap(), n, "{text}");
    }

    // A later refusal on a channel the merge set survives the unmerge.
    let mut tx = store.begin().await.unwrap();
    let mut later = after.clone();
    later.consents.retain(|c| c.channel != Channel::Wechat);
    later.consents.push(Consent {
        channel: Channel::Wechat,
        state: ConsentState::Denied,
        recorded_at: at(60),
        evidence: "unsubscribed".into(),
    });
    later.consents.sort_by_key(|c| c.channel.as_str());
    tx.upsert_customers(&[later]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.unmerge(m, "tester", at(70)).await.unwrap(), k);
    let restored = store.customer(&kept.key).await.unwrap().unwrap().1;
    let state = |ch: Channel| restored.consents.iter().find(|c| c.channel == ch).map(|c| c.state);
    assert_eq!(
        state(Channel::Sms),
        Some(ConsentState::Granted),
        "restored as before the merge"
    );
    assert_eq!(state(Channel::Email), Some(ConsentState::Denied));
    assert_eq!(
        state(Channel::Wechat),
        Some(ConsentState::Denied),
        "the later refusal is kept"
    );
    assert_eq!(restored.wechat, None, "the copied contact is removed again");
    assert_eq!(id_of(store, "mli@example.com").await, m);
    assert!(store.merged_into().await.unwrap().is_empty());
    assert!(matches!(
        store.unmerge(m, "tester", at(71)).await,
        Err(crate::StoreError::Refused(_))
    ));
    let trail = store.audit_trail(&format!("customer:{k}")).await.unwrap();
    // A Shopify buyer's key is their e-mail: the audit log names them masked, so that an
    // erasure leaves no contact behind in it.
    assert!(
        trail
            .iter()
            .all(|t| !t.detail.contains("mli@example.com") && t.detail.contains("m***@example.com")),
        "{trail:?}"
    );
    assert_eq!(
        trail
            .iter()
            .map(|t| (t.action.as_str(), t.actor.as_str(), t.at))
            .collect::<Vec<_>>(),
        vec![
            ("customer.merge", "tester", at(50)),
            ("customer.unmerge", "tester", at(70))
        ]
    );
}

fn message(customer: i64, step: &str, due: DateTime<Utc>) -> crate::NewMessage {
    crate::NewMessage {
        ledger_key: guanxi_domain::program::ledger_key(customer, "payment-reminder", step, "o1"),
        customer_id: customer,
        channel: Channel::Sms,
        program: "payment-reminder".into(),
        step: step.into(),
        template: format!("payment-reminder-{step}"),
        priority: guanxi_domain::program::Priority::Transactional,
        order_id: None,
        due_at: due,
        expires_at: due + chrono::Duration::hours(24),
    }
}

pub async fn outbox_queues_once_claims_once_and_settles(store: &dyn Store) {
    use crate::{Plan, ProgramState, Settle};
    let c = full_customer("c1");
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(std::slice::from_ref(&c)).await.unwrap();
    tx.commit().await.unwrap();
    let id = store.customer_id(&c.key).await.unwrap().unwrap();

    // Programs keep their definition and state, audited.
    let p = ProgramState {
        name: "payment-reminder".into(),
        definition: "name = \"payment-reminder\"".into(),
        enabled: true,
        since: Some(at(0)),
        updated_at: at(1),
    };
    store.save_program(&p, "tester").await.unwrap();
    assert_eq!(store.programs().await.unwrap(), vec![p.clone()]);
    store
        .save_program(
            &ProgramState {
                enabled: false,
                ..p.clone()
            },
            "tester",
        )
        .await
        .unwrap();
    assert!(!store.programs().await.unwrap()[0].enabled);
    let trail = store.audit_trail("program:payment-reminder").await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["program.enable", "program.disable"]);

    // The same touch is queued once, however often the scheduler decides it.
    let tag = |key: &str, action: &'static str| crate::NewAction {
        ledger_key: key.into(),
        customer_id: id,
        program: "second-purchase".into(),
        step: key.into(),
        action,
        detail: "回购".into(),
        due_at: at(10),
    };
    let definitions = guanxi_domain::coupon::Definitions::default();
    let gift = |bits: u64| {
        crate::NewCoupon::new(
            "gift".into(),
            id,
            "BIRTHDAY",
            definitions.named("BIRTHDAY").unwrap(),
            at(50),
            "second-purchase".into(),
            bits,
        )
    };
    let mut plan = Plan {
        messages: vec![message(id, "first", at(100)), message(id, "second", at(200))],
        actions: vec![tag("tag-on", "add-tag"), tag("call", "task"), tag("gift", "coupon")],
        coupons: vec![("gift".into(), gift(1))],
        entered: vec![crate::Entry {
            program: "segment-marketing".into(),
            customer_id: id,
            started_at: at(60),
            occurrence: "2023-11-14".into(),
        }],
        left: vec![],
        at: Some(at(50)),
    };
    assert_eq!(store.apply(&plan).await.unwrap(), 2);
    // A coupon step's coupon is issued with its action, and once: deciding it again (a
    // new code drawn) issues nothing.
    plan.coupons = vec![("gift".into(), gift(2))];
    assert_eq!(
        store.apply(&plan).await.unwrap(),
        0,
        "a ledger key is never queued twice"
    );
    let issued = store
        .coupons(&crate::CouponFilter {
            customer_id: Some(id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        issued
            .iter()
            .map(|c| (c.code.as_str(), c.source.as_str()))
            .collect::<Vec<_>>(),
        [(gift(1).coupon.code.as_str(), "second-purchase")]
    );
    assert_eq!(store.counts().await.unwrap().messages, 2);
    assert_eq!(store.entries("segment-marketing").await.unwrap(), plan.entered);

    // A step's service task is open until someone closes it, once, audited on the customer.
    let open = store.tasks(false, None, 10).await.unwrap();
    assert_eq!(
        open.iter()
            .map(|t| (t.key.as_str(), t.task.as_str(), t.customer_id))
            .collect::<Vec<_>>(),
        [("call", "回购", id)]
    );
    assert_eq!(
        (open[0].due_at, open[0].created_at, open[0].done_at),
        (at(10), at(50), None)
    );
    assert_eq!(store.tasks(false, Some(id + 1000), 10).await.unwrap(), []);
    assert_eq!(
        store.close_task("call", at(70), "staff:li").await.unwrap().as_deref(),
        Some("回购")
    );
    assert_eq!(
        store.close_task("call", at(71), "staff:li").await.unwrap(),
        None,
        "closed once"
    );
    assert_eq!(
        store.close_task("tag-on", at(71), "staff:li").await.unwrap(),
        None,
        "a tag is not a task"
    );
    assert_eq!(store.tasks(false, Some(id), 10).await.unwrap(), []);
    let all = store.tasks(true, Some(id), 10).await.unwrap();
    assert_eq!(all.iter().map(|t| t.done_at).collect::<Vec<_>>(), [Some(at(70))]);
    // Open ones first, the earliest due first; then the last closed first; at most `limit`.
    let task = |key: &str, due: i64| crate::NewAction {
        due_at: at(due),
        ..tag(key, "task")
    };
    let later = Plan {
        actions: vec![task("visit", 30), task("email", 20), task("parcel", 40)],
        at: Some(at(75)),
        ..Plan::default()
    };
    store.apply(&later).await.unwrap();
    store.close_task("visit", at(80), "staff:li").await.unwrap();
    let keys = |tasks: Vec<crate::Task>| tasks.into_iter().map(|t| t.key).collect::<Vec<_>>();
    assert_eq!(
        keys(store.tasks(true, Some(id), 10).await.unwrap()),
        ["email", "parcel", "visit", "call"]
    );
    assert_eq!(keys(store.tasks(false, None, 1).await.unwrap()), ["email"]);
    let trail = store.audit_trail(&format!("customer:{id}")).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|a| a.action == "task.close" && a.actor == "staff:li" && a.detail == "call: 回购"),
        "{trail:?}"
    );
    let keys = vec![plan.messages[0].ledger_key.clone(), "nope".to_string()];
    assert_eq!(store.ledger_has(&keys).await.unwrap(), [keys[0].clone()].into());

    // Claims: only what is due, and never the same row to two workers while leased.
    let lease = chrono::Duration::seconds(60);
    assert!(store.claim("w1", at(99), at(99), lease, 10).await.unwrap().is_empty());
    let first = store.claim("w1", at(150), at(150), lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].step.as_str(), first[0].customer_id), ("first", id));
    assert!(store.claim("w2", at(150), at(150), lease, 10).await.unwrap().is_empty());
    // The lease ends (the worker died): another worker takes it again.
    let again = store.claim("w2", at(150 + 61), at(150 + 61), lease, 1).await.unwrap();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), vec![first[0].id]);

    // What the policy reads at the moment of sending.
    let r = &store.recipients(&[id], at(0), at(0)).await.unwrap()[&id];
    assert_eq!(r.mobile.as_deref(), Some("13800138000"));
    assert_eq!(r.tolerance_per_week, Some(2));
    let facts = r.facts(Channel::Sms);
    assert_eq!(facts.consent, Some(ConsentState::Granted));
    assert!(facts.reachable && !facts.open_complaint);
    assert_eq!(facts.sent_today, 0);

    store
        .settle(&[(first[0].id, Settle::Sent { at: at(160) })])
        .await
        .unwrap();
    let r = &store.recipients(&[id], at(0), at(0)).await.unwrap()[&id];
    assert_eq!(
        (
            r.facts(Channel::Sms).sent_today_channel,
            r.facts(Channel::Email).sent_today
        ),
        (1, 1)
    );
    // A settled message is not taken again.
    assert!(store.claim("w3", at(190), at(190), lease, 10).await.unwrap().is_empty());
    let second = store.claim("w3", at(250), at(250), lease, 10).await.unwrap();
    store
        .settle(&[(
            second[0].id,
            Settle::Deferred {
                until: at(400),
                reason: "quiet-hours".into(),
            },
        )])
        .await
        .unwrap();
    assert!(
        store.claim("w3", at(300), at(300), lease, 10).await.unwrap().is_empty(),
        "deferred"
    );
    let second = store.claim("w3", at(400), at(400), lease, 10).await.unwrap();
    store
        .settle(&[(
            second[0].id,
            Settle::Retry {
                at: at(500),
                error: "gateway 503".into(),
            },
        )])
        .await
        .unwrap();
    let second = store.claim("w3", at(500), at(500), lease, 10).await.unwrap();
    assert_eq!(second[0].attempts, 1);
    store
        .settle(&[(
            second[0].id,
            Settle::Dead {
                at: at(510),
                error: "gateway 503".into(),
            },
        )])
        .await
        .unwrap();
    let counts = store.message_counts(Some("payment-reminder")).await.unwrap();
    let by: Vec<(&str, &str, u64)> = counts
        .iter()
        .map(|c| (c.step.as_str(), c.status.as_str(), c.count))
        .collect();
    assert_eq!(by, [("first", "sent", 1), ("second", "failed", 1)]);

    // A click through a tracked link, then the unsubscribe link: consent withdrawn on the
    // message's channel with its evidence, audited.
    assert!(
        store
            .record_receipt(&first[0].ledger_key, true, at(590), "")
            .await
            .unwrap()
    );
    assert!(!store.record_receipt("no/such/key", true, at(590), "").await.unwrap());
    assert!(
        !store
            .record_receipt(&second[0].ledger_key, true, at(590), "")
            .await
            .unwrap(),
        "never sent"
    );
    let counts = store.message_counts(Some("payment-reminder")).await.unwrap();
    assert!(
        counts
            .iter()
            .any(|c| c.step == "first" && c.status == guanxi_domain::MessageStatus::Delivered)
    );
    assert!(store.record_click(first[0].id, at(600)).await.unwrap());
    assert!(!store.record_click(second[0].id, at(600)).await.unwrap(), "never sent");
    let sent = store.sent_messages("payment-reminder").await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].clicked);
    assert_eq!(store.unsubscribe(first[0].id, at(700)).await.unwrap(), Some(id));
    let r = &store.recipients(&[id], at(0), at(0)).await.unwrap()[&id];
    assert_eq!(r.facts(Channel::Sms).consent, Some(ConsentState::Denied));
    let consent = store.customer_by_id(id).await.unwrap().unwrap().consents;
    let sms = consent.iter().find(|c| c.channel == Channel::Sms).unwrap();
    assert_eq!(sms.recorded_at, at(700));
    assert!(sms.evidence.contains("unsubscribe"), "{}", sms.evidence);
    // Re-importing the customer as the shop exported them before (SMS granted at(5)) does
    // not undo the withdrawal; a newer grant (the customer signs up again) does.
    let mut tx = store.begin().await.unwrap();
    let mut renamed = c.clone();
    renamed.name = Some("李娜娜".into());
    tx.upsert_customers(std::slice::from_ref(&renamed)).await.unwrap();
    tx.commit().await.unwrap();
    let back = store.customer_by_id(id).await.unwrap().unwrap();
    assert_eq!(back.name.as_deref(), Some("李娜娜"));
    let sms_state = |b: &guanxi_domain::Customer| b.consents.iter().find(|c| c.channel == Channel::Sms).unwrap().state;
    assert_eq!(
        sms_state(&back),
        ConsentState::Denied,
        "an older import keeps the withdrawal"
    );
    let mut again = renamed.clone();
    again.consents[1].recorded_at = at(10_000);
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(std::slice::from_ref(&again)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        sms_state(&store.customer_by_id(id).await.unwrap().unwrap()),
        ConsentState::Granted
    );

    // 回复TD退订: a reply reported by the gateway withdraws consent of that mobile's owner.
    assert_eq!(
        store
            .opt_out(Channel::Wechat, "13800138000", at(800), "reply TD")
            .await
            .unwrap(),
        vec![id]
    );
    assert!(
        store
            .opt_out(Channel::Sms, "13900000000", at(800), "reply TD")
            .await
            .unwrap()
            .is_empty()
    );
    let trail = store.audit_trail(&format!("customer:{id}")).await.unwrap();
    assert_eq!(trail.iter().filter(|a| a.action == "consent.withdraw").count(), 2);

    // An open complaint is seen at send time.
    let complaint = ServiceRecord {
        source: src(),
        external_id: "s1".into(),
        customer: c.key.clone(),
        order_external_id: None,
        kind: ServiceKind::Complaint,
        status: ServiceStatus::Open,
        opened_at: at(900),
        closed_at: None,
        satisfaction: None,
        cost: Cents::ZERO,
        note: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.upsert_service_records(&[complaint]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.recipients(&[id], at(0), at(0)).await.unwrap()[&id].open_complaint);

    // The scheduler's reads: orders by event time, birthdays.
    upsert(store, &[order("o1", "c1", 1)]).await;
    let (paid, cursor) = store
        .orders_by_event("paid_at", at(0), at(100), None, 10)
        .await
        .unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].times.paid_at, Some(at(60)));
    assert_eq!(
        cursor,
        Some(EventCursor {
            at: at(60),
            id: paid[0].id
        })
    );
    let (none, end) = store
        .orders_by_event("paid_at", at(61), at(100), None, 10)
        .await
        .unwrap();
    assert!(none.is_empty() && end.is_none());
    assert!(
        store
            .orders_by_event("paid_at; DROP TABLE orders", at(0), at(1), None, 1)
            .await
            .is_err()
    );
    assert_eq!(store.order_events(&[paid[0].id]).await.unwrap()[&paid[0].id], paid[0]);
    assert_eq!(
        store.order_items(&[paid[0].id]).await.unwrap()[&paid[0].id],
        vec![("纸尿裤 L 码 0".to_string(), 1)]
    );
    assert_eq!(store.birthdays(5, 17).await.unwrap(), vec![id]);
    assert_eq!(store.paid_since(&[id], at(0)).await.unwrap(), vec![(id, at(60))]);
    assert!(store.paid_since(&[id], at(60)).await.unwrap().is_empty());
    assert!(store.birthdays(5, 18).await.unwrap().is_empty());

    // Paged by (event time, id): orders paid at one instant are neither lost nor repeated
    // across pages, and later ones follow.
    let mut later = order("o3", "c1", 2);
    later.times.paid_at = Some(at(90));
    upsert(store, &[order("o2", "c1", 1), later]).await;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, cursor) = store
            .orders_by_event("paid_at", at(0), at(200), after, 1)
            .await
            .unwrap();
        let Some(c) = cursor else { break };
        assert_eq!(page.len(), 1);
        seen.push((page[0].times.paid_at.unwrap(), page[0].external_id.clone()));
        after = Some(c);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    let mut ids: Vec<&str> = seen.iter().map(|s| s.1.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["o1", "o2", "o3"]);
    assert_eq!(seen[2], (at(90), "o3".to_string()));
}

/// The catalogue: products upserted by SKU (new, changed, unchanged), keyword rules
/// replaced whole and read back in their order, 1,500 products across statements.
pub async fn catalogue_upserts_products_and_replaces_keywords(store: &dyn Store) {
    use guanxi_domain::catalogue::{KeywordRule, Product};
    let product = |sku: &str, cost: Option<i64>| Product {
        sku: sku.into(),
        title: Some(format!("{sku} 童话书")),
        category: (sku != "p1").then(|| "books".to_string()),
        unit_cost: cost.map(Cents),
    };
    let rule = |k: &str, c: &str| KeywordRule {
        keyword: k.into(),
        category: c.into(),
    };
    let many: Vec<Product> = (0..1500).map(|i| product(&format!("p{i}"), Some(i))).collect();
    let mut tx = store.begin().await.unwrap();
    let r = tx.upsert_products(&many).await.unwrap();
    assert!(r.outcomes.iter().all(|o| *o == Outcome::Inserted));
    tx.replace_keywords(&[rule("书", "books"), rule("邮费", "postage")])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let r = tx
        .upsert_products(&[product("p0", Some(0)), product("p1", None), product("new", None)])
        .await
        .unwrap();
    assert_eq!(r.outcomes, [Outcome::Unchanged, Outcome::Updated, Outcome::Inserted]);
    tx.replace_keywords(&[rule("邮费", "postage"), rule("书", "gifts"), rule("卡", "cards")])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let c = store.catalogue().await.unwrap();
    assert_eq!(c.products(), 1501);
    let line = |sku: &str, title: Option<&str>| OrderLine {
        sku: Some(sku.into()),
        title: title.map(Into::into),
        category: None,
        quantity: 2,
        amount: Cents(100),
        discount: Cents::ZERO,
        cost: None,
        refund: Cents::ZERO,
    };
    let mut o = order("cat-1", "c-cat", 1);
    o.lines = vec![line("p1", None), line("p7", Some("x"))];
    assert!(c.fill(&mut o));
    // p1 lost its cost and has no category: its title names a book, and the rules read
    // back in their new order say gifts.
    assert_eq!(o.lines[0].title.as_deref(), Some("p1 童话书"));
    assert_eq!((o.lines[0].category.as_deref(), o.lines[0].cost), (Some("gifts"), None));
    assert_eq!(
        (o.lines[1].category.as_deref(), o.lines[1].cost),
        (Some("books"), Some(Cents(14)))
    );

    // A rolled-back replace leaves the rules as they were.
    let mut tx = store.begin().await.unwrap();
    tx.replace_keywords(&[]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.catalogue().await.unwrap(), c);
}

/// A campaign is created once by name, launched once with its snapshot (all members or
/// none), and a second launch is refused without touching the first's members.
pub async fn campaigns_launch_once_with_their_snapshot(store: &dyn Store) {
    let by = |action: &str| crate::Audited {
        at: at(100),
        actor: "marketer".into(),
        action: action.into(),
        subject: String::new(),
        detail: String::new(),
        origin: "test".into(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[full_customer("a"), full_customer("b"), full_customer("c")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (a, b, c) = (
        id_of(store, "a").await,
        id_of(store, "b").await,
        id_of(store, "c").await,
    );
    let seed = u64::MAX - 7; // all 64 bits survive the signed column
    let made = store
        .create_campaign("double-11", "name = \"double-11\"", seed, &by(""))
        .await
        .unwrap();
    assert_eq!((made.seed, made.launched_at, made.members), (seed, None, 0));
    assert!(matches!(
        store.create_campaign("double-11", "", 1, &by("")).await,
        Err(crate::StoreError::Refused(_))
    ));
    let member = |customer_id: i64, variant: Option<u32>| crate::CampaignMember {
        customer_id,
        audience: 0,
        variant,
        reason: format!("in vip; {variant:?}"),
    };
    let members = vec![member(a, Some(0)), member(b, None), member(c, Some(1))];
    store.launch_campaign(made.id, &members, &by("")).await.unwrap();
    assert!(matches!(
        store.launch_campaign(made.id, &[member(a, None)], &by("")).await,
        Err(crate::StoreError::Refused(_))
    ));
    let stored = store.campaign("double-11").await.unwrap().unwrap();
    assert_eq!(
        (stored.seed, stored.launched_at, stored.members),
        (seed, Some(at(100)), 3)
    );
    let mut listed = store.campaign_members(made.id, 0, 2).await.unwrap();
    listed.extend(store.campaign_members(made.id, listed[1].customer_id, 2).await.unwrap());
    let mut want = members.clone();
    want.sort_by_key(|m| m.customer_id);
    assert_eq!(listed, want, "as launched, paged by customer");
    assert_eq!(store.campaigns().await.unwrap().len(), 1);
    let trail = store.audit_trail(&format!("campaign:{}", made.id)).await.unwrap();
    assert_eq!(
        trail
            .iter()
            .map(|t| (t.action.as_str(), t.detail.as_str()))
            .collect::<Vec<_>>(),
        [
            ("campaign.create", "double-11"),
            ("campaign.launch", "3 members, 1 held out")
        ]
    );
    // The members' paid orders in a window, each for its member; others' are not theirs.
    upsert(store, &[order("o-a", "a", 2), order("o-x", "x", 1)]).await;
    let orders = store.campaign_orders(made.id, at(0), at(61)).await.unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(
        (orders[0].customer_id, orders[0].paid_at, orders[0].cost_cents),
        (a, at(60), 1000)
    );
    assert!(
        store
            .campaign_orders(made.id, at(61), at(999))
            .await
            .unwrap()
            .is_empty()
    );
    // Its waves' touches: a message in the outbox (delivered once sent, clicked once
    // clicked) and a holdout record; another program's messages are not its.
    let program = guanxi_domain::campaign::program_name("double-11");
    let message = |customer_id: i64, program: &str| crate::NewMessage {
        ledger_key: format!("{customer_id}/{program}/wave-1"),
        customer_id,
        channel: guanxi_domain::Channel::Sms,
        program: program.into(),
        step: "wave-1".into(),
        template: "preheat-7".into(),
        priority: guanxi_domain::program::Priority::Marketing,
        order_id: None,
        due_at: at(100),
        expires_at: at(200),
    };
    let plan = crate::Plan {
        messages: vec![message(a, &program), message(c, "win-back")],
        actions: vec![crate::NewAction {
            ledger_key: format!("{b}/{program}/wave-1"),
            customer_id: b,
            program: program.clone(),
            step: "wave-1".into(),
            action: "holdout",
            detail: "vip".into(),
            due_at: at(100),
        }],
        at: Some(at(100)),
        ..crate::Plan::default()
    };
    store.apply(&plan).await.unwrap();
    let touch = |customer_id: i64, held: bool, delivered: bool, clicked: bool| crate::CampaignTouch {
        customer_id,
        step: "wave-1".into(),
        channel: (!held).then_some(guanxi_domain::Channel::Sms),
        held,
        delivered,
        clicked,
    };
    let mut want = vec![touch(a, false, false, false), touch(b, true, false, false)];
    want.sort_by_key(|t| t.customer_id);
    assert_eq!(store.campaign_touches("double-11").await.unwrap(), want, "queued, held");
    let claimed = store
        .claim("w", at(101), at(101), chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    let sent: Vec<(i64, crate::Settle)> = claimed
        .iter()
        .map(|m| (m.id, crate::Settle::Sent { at: at(101) }))
        .collect();
    store.settle(&sent).await.unwrap();
    let mine = claimed.iter().find(|m| m.customer_id == a).unwrap();
    assert!(store.record_click(mine.id, at(102)).await.unwrap());
    let mut want = vec![touch(a, false, true, true), touch(b, true, false, false)];
    want.sort_by_key(|t| t.customer_id);
    assert_eq!(
        store.campaign_touches("double-11").await.unwrap(),
        want,
        "sent, clicked"
    );
    assert!(store.campaign_touches("other").await.unwrap().is_empty());
    // Both arms of the step, each with the first paid order after it fell due: b (held
    // out) pays at(150), a paid only before.
    let mut later = order("o-b", "b", 1);
    later.times.paid_at = Some(at(150));
    upsert(store, &[later]).await;
    let mut arms = store.step_arms(&program).await.unwrap();
    arms.sort_by_key(|a| a.held);
    assert_eq!(
        arms.iter()
            .map(|a| (a.step.as_str(), a.held, a.due_at, a.next_paid_at))
            .collect::<Vec<_>>(),
        [
            ("wave-1", false, at(100), None),
            ("wave-1", true, at(100), Some(at(150)))
        ]
    );
    assert!(
        store.step_arms("win-back").await.unwrap().len() == 1,
        "c's message only"
    );
}

/// A member's points: an event and its movements appended at once; a replayed key
/// changes nothing; a stale read is a conflict; balances and lot sums come from the
/// movements; the ledger pages by member.
pub async fn coupons_issue_once_and_are_redeemed_by_the_first_paid_order_naming_them(store: &dyn Store) {
    use crate::{CouponFilter, NewCoupon};
    use guanxi_domain::coupon::{Definitions, Status};
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[full_customer("a"), full_customer("b")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (a, b) = (id_of(store, "a").await, id_of(store, "b").await);
    let definitions = Definitions::default();
    let birthday = definitions.named("BIRTHDAY").unwrap();
    let issue = |key: &str, customer: i64, bits: u64| {
        NewCoupon::new(key.into(), customer, "BIRTHDAY", birthday, at(100), "care".into(), bits)
    };
    let (first, second) = (issue("k-a", a, 1), issue("k-b", b, 2));
    assert_eq!(store.issue_coupons(&[first.clone(), second.clone()]).await.unwrap(), 2);
    // The same key again (another code drawn) issues nothing.
    assert_eq!(store.issue_coupons(&[issue("k-a", a, 3)]).await.unwrap(), 0);
    let all = |customer: Option<i64>| CouponFilter {
        customer_id: customer,
        limit: 10,
        ..Default::default()
    };
    let of_a = store.coupons(&all(Some(a))).await.unwrap();
    assert_eq!(of_a.len(), 1);
    assert_eq!(of_a[0].code, first.coupon.code);
    assert_eq!(of_a[0].value_cents, 2_000);
    assert_eq!(of_a[0].expires_at, at(100) + chrono::Duration::days(30));
    assert_eq!(of_a[0].status(at(200)), Status::Open);

    // Orders naming a's code: one paid before the coupon existed (not its redemption),
    // then two after it — the first of those redeems it. b's code is named by nobody.
    let named = |id: &str, paid: i64| {
        let mut o = order(id, "a", 1);
        o.coupon = Some(first.coupon.code.clone());
        o.created_at = at(paid - 10);
        o.times.paid_at = Some(at(paid));
        o
    };
    let mut unpaid = named("o-unpaid", 150);
    unpaid.times.paid_at = None;
    unpaid.status = guanxi_domain::OrderStatus::Created;
    let mut tx = store.begin().await.unwrap();
    tx.upsert_orders(&[
        named("o-before", 50),
        unpaid,
        named("o-late", 400),
        named("o-first", 300),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .redeem_coupons(Some(std::slice::from_ref(&second.coupon.code)))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.redeem_coupons(None).await.unwrap(), 1);
    assert_eq!(
        store.redeem_coupons(None).await.unwrap(),
        0,
        "a redeemed coupon stays with its order"
    );
    let first_order = store.order(&order("o-first", "a", 1).key).await.unwrap().unwrap();
    let redeemed = store.coupons(&all(Some(a))).await.unwrap().remove(0);
    assert_eq!(redeemed.redeemed_order, Some(first_order.id));
    assert_eq!(redeemed.redeemed_at, Some(at(300)));
    assert_eq!(redeemed.status(at(10_000_000)), Status::Redeemed);
    let open = store.coupons(&all(Some(b))).await.unwrap().remove(0);
    assert_eq!(open.redeemed_order, None);
    assert_eq!(open.status(at(100) + chrono::Duration::days(30)), Status::Expired);
    let by_code = CouponFilter {
        code: Some(second.coupon.code.clone()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.coupons(&by_code).await.unwrap().len(), 1);
    let by_source = CouponFilter {
        source: Some("care".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.coupons(&by_source).await.unwrap().len(), 2);
    let of_both = CouponFilter {
        customers: vec![a, b],
        limit: 10,
        ..Default::default()
    };
    let mut both: Vec<i64> = store
        .coupons(&of_both)
        .await
        .unwrap()
        .iter()
        .map(|c| c.customer_id)
        .collect();
    both.sort_unstable();
    assert_eq!(both, [a, b]);
    let of_b = CouponFilter {
        customers: vec![b],
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.coupons(&of_b).await.unwrap()[0].code, second.coupon.code);
}

/// The orders a points window earns or refunds: paid in it, or refunded in it though paid
/// before; paged by id from the window's first order, each page after the last one's id.
pub async fn points_orders_are_those_paid_or_refunded_in_the_window(store: &dyn Store) {
    let timed = |id: &str, paid: i64, refunded: Option<i64>| {
        let mut o = order(id, "a", 1);
        o.created_at = at(paid - 10);
        o.times.paid_at = Some(at(paid));
        o.times.refunded_at = refunded.map(at);
        o
    };
    upsert(
        store,
        &[
            timed("early", 100, None),
            timed("refunded-late", 200, Some(5_000)),
            timed("in-1", 4_000, None),
            timed("in-2", 4_500, None),
            timed("after", 9_000, None),
        ],
    )
    .await;
    let ids = |page: &[crate::PointsOrder]| page.iter().map(|o| o.external_id.clone()).collect::<Vec<_>>();
    let first = store.points_orders(at(3_000), at(6_000), 0, 2).await.unwrap();
    assert_eq!(ids(&first), ["refunded-late", "in-1"]);
    let rest = store.points_orders(at(3_000), at(6_000), first[1].id, 2).await.unwrap();
    assert_eq!(ids(&rest), ["in-2"]);
    assert!(
        store
            .points_orders(at(3_000), at(6_000), rest[0].id, 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .points_orders(at(20_000), at(30_000), 0, 2)
            .await
            .unwrap()
            .is_empty()
    );
    let early = store.points_orders(at(0), at(150), 0, 10).await.unwrap();
    assert_eq!(ids(&early), ["early"]);
}

pub async fn points_append_once_and_sum_to_the_balance(store: &dyn Store) {
    use guanxi_domain::points::{Account, Event, Key, Kind};
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[full_customer("a"), full_customer("b")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (a, b) = (id_of(store, "a").await, id_of(store, "b").await);
    let mut account = Account::default();
    let earn = Key::new(Kind::Earn, "t", "o-1");
    let event = Event::Earn {
        points: 120,
        expires_at: at(1000),
    };
    let moved = account.post(&earn, at(10), &event).unwrap();
    // The earning as an import appends it, after the member's last event `last`.
    let earning = |last: Option<i64>| crate::NewPoints {
        customer_id: a,
        last,
        key: &earn,
        at: at(10),
        event: &event,
        movements: &moved,
        actor: "import",
    };
    assert_eq!(
        store.append_points(&earning(None)).await.unwrap(),
        crate::Appended::Posted
    );
    assert_eq!(
        store.append_points(&earning(None)).await.unwrap(),
        crate::Appended::Conflict,
        "read before the first event"
    );
    let posted = store.points_events(a).await.unwrap();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        (&posted[0].key, &posted[0].event, posted[0].at),
        (&earn, &event, at(10))
    );
    assert_eq!(
        store
            .append_points(&crate::NewPoints {
                customer_id: a,
                last: Some(posted[0].id),
                key: &earn,
                at: at(11),
                event: &event,
                movements: &moved,
                actor: "webhook"
            })
            .await
            .unwrap(),
        crate::Appended::Replayed
    );
    let redeem = Key::new(Kind::Redeem, "t", "r-1");
    let spend = Event::Redeem { points: 20 };
    let moved = account.post(&redeem, at(20), &spend).unwrap();
    assert_eq!(
        store
            .append_points(&crate::NewPoints {
                customer_id: a,
                last: Some(posted[0].id),
                key: &redeem,
                at: at(20),
                event: &spend,
                movements: &moved,
                actor: "ann"
            })
            .await
            .unwrap(),
        crate::Appended::Posted
    );
    // Two appends after the same read, at once: one is posted, the other must read
    // again — never both (they could spend the same points).
    let last = store.points_events(a).await.unwrap().last().map(|e| e.id);
    let (k1, k2) = (Key::new(Kind::Redeem, "t", "r-2"), Key::new(Kind::Redeem, "t", "r-3"));
    let one = Event::Redeem { points: 80 };
    let moved = account.clone().post(&k1, at(21), &one).unwrap();
    let new = |key| crate::NewPoints {
        customer_id: a,
        last,
        key,
        at: at(21),
        event: &one,
        movements: &moved,
        actor: "till",
    };
    let (n1, n2) = (new(&k1), new(&k2));
    let (x, y) = tokio::join!(store.append_points(&n1), store.append_points(&n2));
    let mut both = [x.unwrap(), y.unwrap()];
    both.sort_by_key(|a| *a != crate::Appended::Posted);
    assert_eq!(both, [crate::Appended::Posted, crate::Appended::Conflict]);
    assert_eq!(store.points_balances(0, 1).await.unwrap(), vec![(a, 20)]);
    let mut other = Account::default();
    let theirs = Key::new(Kind::Earn, "t", "o-2");
    let moved = other.post(&theirs, at(30), &event).unwrap();
    store
        .append_points(&crate::NewPoints {
            customer_id: b,
            last: None,
            key: &theirs,
            at: at(30),
            event: &event,
            movements: &moved,
            actor: "import",
        })
        .await
        .unwrap();
    assert_eq!(store.points_balances(0, 10).await.unwrap(), vec![(a, 20), (b, 120)]);
    assert_eq!(store.points_balances(a, 10).await.unwrap(), vec![(b, 120)]);
    assert_eq!(store.points_members(0, 1).await.unwrap(), vec![a]);
    let (events, sums) = store.points_ledger(0, a).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        sums,
        vec![crate::LotSum {
            customer_id: a,
            lot: Some(earn.clone()),
            points: 20
        }]
    );
    let posted = store
        .points_posted(&[(a, earn.clone()), (b, earn.clone()), (b, theirs.clone())])
        .await
        .unwrap();
    assert_eq!(posted, [(a, earn.clone()), (b, theirs.clone())].into_iter().collect());
    // A batch posted elsewhere: the new event appended with its movements, the one
    // already posted skipped.
    let more = Key::new(Kind::Earn, "t", "o-3");
    let moved = other.post(&more, at(40), &event).unwrap();
    let none: Vec<guanxi_domain::points::Movement> = Vec::new();
    let batch = [
        crate::NewPoints {
            customer_id: b,
            last: None,
            key: &theirs,
            at: at(30),
            event: &event,
            movements: &none,
            actor: "import",
        },
        crate::NewPoints {
            customer_id: b,
            last: None,
            key: &more,
            at: at(40),
            event: &event,
            movements: &moved,
            actor: "import",
        },
    ];
    assert_eq!(store.append_points_batch(&batch).await.unwrap(), 1);
    assert_eq!(store.points_balances(a, 10).await.unwrap(), vec![(b, 240)]);
    assert_eq!(store.points_events(b).await.unwrap().len(), 2);

    // Tiers: the people's paid orders, then their changes and warnings recorded once.
    upsert(store, &[order("o-a1", "a", 1), order("o-b1", "b", 2)]).await;
    let paid = store.member_orders(0, 1).await.unwrap();
    assert_eq!(
        paid.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![a],
        "one person a page"
    );
    assert_eq!(paid[0].1.at, at(60));
    let all = store.member_orders(0, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[1].1.cents > all[0].1.cents, "two lines against one: {all:?}");
    use guanxi_domain::tier::{Change, Warning, Why};
    let joined = Change {
        at: at(60),
        from: None,
        to: 1,
        why: Why::Joined,
        measure: all[0].1.cents,
    };
    let warning = Warning {
        at: at(90),
        evaluation: at(120),
        tier: 1,
        would_be: 0,
        measure: 0,
    };
    let changes = [(a, joined.clone(), "银卡".to_string())];
    let warnings = [(a, warning, "银卡".to_string())];
    assert_eq!(store.record_tiers(&changes, &warnings, at(100)).await.unwrap(), (1, 1));
    assert_eq!(
        store.record_tiers(&changes, &warnings, at(101)).await.unwrap(),
        (0, 0),
        "once"
    );
    // As a program's trigger: entering 银卡, and the warning of losing it.
    assert_eq!(
        store.entered_class("tier", "银卡", at(0), at(100)).await.unwrap(),
        vec![(a, at(60).timestamp(), at(60))]
    );
    assert!(
        store
            .entered_class("tier", "金卡", at(0), at(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .entered_class("tier-warning", "银卡", at(0), at(100))
            .await
            .unwrap(),
        vec![(a, at(120).timestamp(), at(90))]
    );
    assert_eq!(store.tier_changes(a).await.unwrap(), vec![joined]);
    assert!(store.tier_changes(b).await.unwrap().is_empty());

    // A merged customer's paid orders count for the person it was merged into, one
    // without a paid order of its own too; a customer whose orders are all unpaid is on
    // no page.
    let mut tx = store.begin().await.unwrap();
    tx.upsert_customers(&[full_customer("c")]).await.unwrap();
    tx.commit().await.unwrap();
    let mut unpaid = order("o-e1", "e", 1);
    unpaid.status = OrderStatus::Created;
    unpaid.times.paid_at = None;
    upsert(store, &[order("o-d1", "d", 3), unpaid]).await;
    let (c, d) = (id_of(store, "c").await, id_of(store, "d").await);
    store.merge(c, d, "tester", at(200)).await.unwrap();
    let people = |page: &[(i64, guanxi_domain::tier::Paid)]| page.iter().map(|p| p.0).collect::<Vec<_>>();
    assert_eq!(people(&store.member_orders(0, 10).await.unwrap()), vec![a, b, c]);
    let after_b = store.member_orders(b, 10).await.unwrap();
    assert_eq!(people(&after_b), vec![c], "d's order, for c: {after_b:?}");
    assert!(after_b[0].1.cents > all[1].1.cents, "three lines: {after_b:?}");
    assert!(store.member_orders(c, 10).await.unwrap().is_empty());
}

/// Expands to one `#[tokio::test]` per story; `$make` is an async expression giving a
/// fresh, empty store and a guard to hold while it is used. A backend whose server may be
/// missing marks the stories ignored with an attribute (PostgreSQL: its build.rs).
#[macro_export]
macro_rules! store_stories {
    // `attrs`: put on every story, e.g. `#[cfg_attr(no_server, ignore = "…")]`.
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::store_stories!(@each $make; [$(#[$attr])*];
            orders_round_trip,
            reimport_changes_nothing,
            update_replaces_lines_and_bumps_revision,
            rollback_leaves_the_store_as_it_was,
            large_batches_round_trip,
            customers_keep_contacts_consent_and_tags,
            service_records_and_reviews_upsert,
            settings_and_import_history,
            builds_record_class_transitions,
            segments_count_list_and_explain,
            profile_columns_count_as_the_store,
            reports_sum_the_current_build,
            merge_keeps_the_most_restrictive_consent_and_unmerges,
            campaigns_launch_once_with_their_snapshot,
            points_append_once_and_sum_to_the_balance,
            points_orders_are_those_paid_or_refunded_in_the_window,
            coupons_issue_once_and_are_redeemed_by_the_first_paid_order_naming_them,
            search_and_history_find_a_customer,
            outbox_queues_once_claims_once_and_settles,
            catalogue_upserts_products_and_replaces_keywords,
            access_keeps_users_sessions_and_the_audit_log,
            a_delivery_is_applied_once,
            an_erased_customer_keeps_its_id_and_orders_and_nothing_personal,
            a_held_key_is_held_until_the_transaction_ends,
        );
    };
    (@each $make:expr; $attrs:tt; $($story:ident),+ $(,)?) => {
        $( $crate::store_stories!(@one $make; $attrs; $story); )+
    };
    (@one $make:expr; [$($attr:tt)*]; $story:ident) => {
        #[tokio::test]
        $($attr)*
        async fn $story() {
            // The guard keeps what the store lives in (a temporary directory) alive.
            let (store, _guard) = $make.await;
            $crate::testsuite::$story(&store).await;
        }
    };
}

/// Users (a name taken refused, the addition audited), sessions (found by their id's
/// hash while they last and their user is enabled; ended), and the audit log (appended,
/// read from a time on, counted per subject or origin for the sign-in throttle).
pub async fn access_keeps_users_sessions_and_the_audit_log(store: &dyn Store) {
    use guanxi_domain::access::Role;
    let by = crate::Audited {
        at: at(0),
        actor: "cli".into(),
        action: String::new(),
        subject: String::new(),
        detail: String::new(),
        origin: "cli".into(),
    };
    let ann = store.add_user("ann", Role::Admin, "$argon2id$…", &by).await.unwrap();
    assert_eq!(
        (ann.name.as_str(), ann.role, ann.disabled_at),
        ("ann", Role::Admin, None)
    );
    let again = store
        .add_user("ann", Role::Agent, "$argon2id$…", &by)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("exists"), "{again}");
    let bob = store.add_user("bob", Role::Agent, "$argon2id$…2", &by).await.unwrap();
    assert_eq!(store.users().await.unwrap(), vec![ann.clone(), bob.clone()]);
    assert_eq!(store.user_named("bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(store.user_named("nobody").await.unwrap(), None);

    let session = crate::Session {
        id_hash: "h1".into(),
        user_id: bob.id,
        csrf: "c1".into(),
        created_at: at(10),
        expires_at: at(100),
        origin: "127.0.0.1".into(),
    };
    store.start_session(&session).await.unwrap();
    assert_eq!(
        store.session("h1", at(50)).await.unwrap(),
        Some((session.clone(), bob.clone()))
    );
    assert_eq!(store.session("h1", at(100)).await.unwrap(), None, "expired");
    assert_eq!(store.session("h2", at(50)).await.unwrap(), None);
    assert!(store.end_session("h1").await.unwrap());
    assert!(!store.end_session("h1").await.unwrap());
    assert_eq!(store.session("h1", at(50)).await.unwrap(), None, "ended");
    // Tokens: found by their secret's hash while live; revoked once; listed.
    use guanxi_domain::access::Capability;
    let new = crate::NewToken {
        user_id: ann.id,
        name: "sync".into(),
        token_hash: "t1".into(),
        scopes: vec![Capability::ReadReports, Capability::Segments],
        created_at: at(0),
        expires_at: at(100),
    };
    let token = store.add_token(&new, &by).await.unwrap();
    assert_eq!(
        (token.name.as_str(), token.scopes.clone()),
        ("sync", new.scopes.clone())
    );
    let (found, owner) = store.token("t1", at(50)).await.unwrap().unwrap();
    assert_eq!((found, owner.name.as_str()), (token.clone(), "ann"));
    assert_eq!(store.token("t1", at(100)).await.unwrap(), None, "expired");
    assert_eq!(store.token("t2", at(50)).await.unwrap(), None);
    assert_eq!(store.tokens(Some(ann.id)).await.unwrap(), vec![token.clone()]);
    assert!(store.tokens(Some(bob.id)).await.unwrap().is_empty());
    assert!(store.revoke_token(token.id, &by).await.unwrap());
    assert!(!store.revoke_token(token.id, &by).await.unwrap(), "once");
    assert_eq!(store.token("t1", at(50)).await.unwrap(), None, "revoked");
    assert_eq!(store.tokens(None).await.unwrap()[0].revoked_at, Some(at(0)));
    // Disabling a user ends their sessions and keeps them (the log names them).
    store
        .start_session(&crate::Session {
            id_hash: "h3".into(),
            ..session.clone()
        })
        .await
        .unwrap();
    let disabled = store.disable_user("bob", &by).await.unwrap().unwrap();
    assert_eq!(disabled.disabled_at, Some(at(0)));
    assert_eq!(store.session("h3", at(50)).await.unwrap(), None, "their sessions end");
    assert_eq!(
        store.disable_user("bob", &by).await.unwrap(),
        Some(disabled.clone()),
        "once"
    );
    assert_eq!(store.disable_user("nobody", &by).await.unwrap(), None);
    assert_eq!(store.user_named("bob").await.unwrap(), Some(disabled));

    for (t, origin) in [(20, "10.0.0.1"), (30, "10.0.0.2"), (40, "10.0.0.2")] {
        store
            .audit(&crate::Audited {
                at: at(t),
                actor: "bob".into(),
                action: "login.failed".into(),
                subject: "user:bob".into(),
                detail: String::new(),
                origin: origin.into(),
            })
            .await
            .unwrap();
    }
    let log = store.audit_log(None, 100).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        [
            "user.add",
            "user.add",
            "token.add",
            "token.revoke",
            "user.disable",
            "login.failed",
            "login.failed",
            "login.failed"
        ]
    );
    assert_eq!(log[0].subject, format!("user:{}", ann.id));
    assert_eq!(log[0].origin, "cli");
    assert_eq!(store.audit_log(Some(at(30)), 100).await.unwrap().len(), 2);
    assert_eq!(store.audit_log(None, 1).await.unwrap().len(), 1);
    let count = |subject, origin| store.audited_count("login.failed", at(25), subject, origin);
    assert_eq!(count(Some("user:bob"), None).await.unwrap(), 2);
    assert_eq!(count(None, Some("10.0.0.1")).await.unwrap(), 0, "before since");
    assert_eq!(count(None, Some("10.0.0.2")).await.unwrap(), 2);
    assert_eq!(count(Some("user:ann"), Some("10.0.0.2")).await.unwrap(), 2);
    assert_eq!(count(Some("user:ann"), None).await.unwrap(), 0);
}
