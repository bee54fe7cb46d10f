//! Live events over a real store and lake: Shopify webhooks signed or not, repeated
//! deliveries, the payment reminder an unpaid order makes due (the scheduler driven by
//! the clock it is given, not by sleeps), refunds, signed events from any platform, and
//! a person's data exported then erased — from the store and from the lake.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use guanxi_app::Shop;
use guanxi_app::access::Actor;
use guanxi_app::events::{self, Received, Verified};
use guanxi_domain::program::ContactPolicy;
use guanxi_domain::{OrderStatus, ShopTz};
use guanxi_engage::schedule::{self, Scheduler};
use guanxi_lake::Lake;
use guanxi_store::{Orders as _, Store};
use guanxi_store_sqlite::SqliteStore;
use hmac::{KeyInit as _, Mac as _};

const ORDER: &str = include_str!("../../guanxi-import/tests/data/shopify-webhooks/orders-create.json");
const SECRET: &[u8] = b"shpss_test_secret";

struct Fixture {
    store: SqliteStore,
    lake: Lake,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let lake = Lake::new(dir.path().join("lake"));
        Fixture { store, lake, _dir: dir }
    }

    fn shop(&self) -> Shop<'_> {
        Shop {
            store: &self.store,
            lake: &self.lake,
            tz: ShopTz::default(),
        }
    }

    async fn shopify(
        &self,
        topic: &str,
        id: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Received, guanxi_app::AppError> {
        let signature = sign(body.as_bytes());
        let verified = Verified::shopify(SECRET, body.as_bytes(), &signature).expect("signed with the secret");
        events::shopify(self.shop(), topic, id, verified, now).await
    }
}

/// Signed as Shopify signs: written out here, not with the crate's own helper, so that
/// both would have to be wrong the same way for the test to pass.
fn sign(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(body);
    let ours = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(ours, events::shopify_signature(SECRET, body));
    ours
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// The order created at 14:00 UTC, as Shopify sends it; paid when `paid_at` is given.
fn order_body(paid_at: Option<&str>) -> String {
    let mut v: serde_json::Value = serde_json::from_str(ORDER).unwrap();
    v["phone"] = "+86 138 0013 8000".into();
    if let Some(at) = paid_at {
        v["financial_status"] = "paid".into();
        v["updated_at"] = at.into();
    }
    v.to_string()
}

#[test]
fn only_the_secret_signs_a_body() {
    let body = br#"{"id": 1}"#;
    assert!(Verified::shopify(SECRET, body, &sign(body)).is_some());
    assert!(Verified::shopify(b"another secret", body, &sign(body)).is_none());
    assert!(
        Verified::shopify(SECRET, br#"{"id": 2}"#, &sign(body)).is_none(),
        "a changed body"
    );
    assert!(Verified::shopify(SECRET, body, "not base64!").is_none());
    assert!(Verified::shopify(SECRET, body, "").is_none());
}

/// The scheduler's messages queued by a pass at `now` for the payment reminder.
async fn reminders_due(store: &dyn Store, now: DateTime<Utc>) -> u64 {
    reminder_pass(store, now).await.0
}

/// A pass at `now`: the reminders it queued, and when the next one falls due.
async fn reminder_pass(store: &dyn Store, now: DateTime<Utc>) -> (u64, Option<DateTime<Utc>>) {
    let programs = schedule::load(store).await.unwrap();
    let policy = ContactPolicy::default();
    let scheduler = Scheduler {
        store,
        policy: &policy,
        tz: ShopTz::default(),
        columns: None,
        coupons: &Default::default(),
        tiers: &Default::default(),
    };
    let planned = scheduler.pass(&programs, now).await.unwrap();
    let p = planned.iter().find(|p| p.program == "payment-reminder").unwrap();
    (p.messages, p.next_due)
}

async fn enable_payment_reminder(store: &dyn Store) {
    let (program, text) = guanxi_app::programs::find(store, "payment-reminder")
        .await
        .unwrap()
        .unwrap();
    guanxi_app::programs::enable(
        store,
        &program,
        text,
        &Default::default(),
        t("2026-11-29T00:00:00Z"),
        &Actor::cli(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unpaid_order_makes_its_reminder_due_at_30_minutes_and_once() {
    let f = Fixture::new().await;
    enable_payment_reminder(&f.store).await;
    let created = t("2026-11-29T14:00:00Z");
    let r = f
        .shopify("orders/create", "ev-1", &order_body(None), created)
        .await
        .unwrap();
    assert_eq!(
        r,
        Received::Applied {
            order: Some("#9999".into()),
            customer: Some("jon@example.com".into())
        }
    );
    // The same delivery again (Shopify retries until it gets a 2xx): applied once.
    let again = f
        .shopify("orders/create", "ev-1", &order_body(None), created)
        .await
        .unwrap();
    assert_eq!(again, Received::Repeated);
    let stored = f
        .store
        .order(&guanxi_app::events::order_key("#9999"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.order.status, stored.revision), (OrderStatus::Created, 1));
    // The order is in the lake at once (the reports and the next build see it).
    assert!(!f.lake.files().unwrap().is_empty());
    // A pass before the 30th minute queues nothing and says when to come back: the
    // engine plans again at that minute, not at its next interval.
    assert_eq!(
        reminder_pass(&f.store, created + Duration::minutes(29)).await,
        (0, Some(created + Duration::minutes(30)))
    );
    assert_eq!(reminders_due(&f.store, created + Duration::minutes(30)).await, 1);
    assert_eq!(
        reminders_due(&f.store, created + Duration::minutes(31)).await,
        0,
        "never twice"
    );
    // The buyer came with the order, consent and all.
    let (_, buyer) = f
        .store
        .customer(&stored.order.customer.clone().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buyer.name.as_deref(), Some("Jon Snow"));
    assert_eq!(buyer.consents.len(), 1);
}

#[tokio::test]
async fn an_order_paid_before_30_minutes_is_never_reminded() {
    let f = Fixture::new().await;
    enable_payment_reminder(&f.store).await;
    let created = t("2026-11-29T14:00:00Z");
    f.shopify("orders/create", "ev-1", &order_body(None), created)
        .await
        .unwrap();
    f.shopify(
        "orders/paid",
        "ev-2",
        &order_body(Some("2026-11-29T09:20:00-05:00")),
        created + Duration::minutes(20),
    )
    .await
    .unwrap();
    // Delivered late and out of order, the creation does not undo the payment.
    f.shopify(
        "orders/create",
        "ev-1-retry",
        &order_body(None),
        created + Duration::minutes(25),
    )
    .await
    .unwrap();
    let stored = f
        .store
        .order(&guanxi_app::events::order_key("#9999"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.order.status, OrderStatus::Paid);
    assert_eq!(stored.order.times.paid_at, Some(created + Duration::minutes(20)));
    for minutes in [30, 60, 6 * 60 + 1] {
        assert_eq!(reminders_due(&f.store, created + Duration::minutes(minutes)).await, 0);
    }
    assert_eq!(
        reminder_pass(&f.store, created + Duration::minutes(21)).await,
        (0, None),
        "nothing more to wake for"
    );
}

#[tokio::test]
async fn a_refund_finds_its_order_by_shopifys_id_and_bad_payloads_change_nothing() {
    let f = Fixture::new().await;
    let at = t("2026-11-29T15:00:00Z");
    // A refund for an order not received yet: 409, so that Shopify retries later.
    let refund = r#"{"id": 1, "order_id": 820982911946154508, "created_at": "2026-11-30T10:00:00+08:00",
        "refund_line_items": [{"line_item_id": 141249953214522974, "quantity": 1, "subtotal": 100.0,
          "line_item": {"sku": "CASE", "title": "Case"}}]}"#;
    let early = f.shopify("refunds/create", "ev-r", refund, at).await.unwrap_err();
    assert_eq!((early.code(), early.kind().http_status()), ("event_order_unknown", 409));
    f.shopify(
        "orders/paid",
        "ev-p",
        &order_body(Some("2026-11-29T09:05:00-05:00")),
        at,
    )
    .await
    .unwrap();
    // The refused delivery was not recorded: its retry is applied.
    f.shopify("refunds/create", "ev-r", refund, at).await.unwrap();
    let stored = f
        .store
        .order(&guanxi_app::events::order_key("#9999"))
        .await
        .unwrap()
        .unwrap();
    let case = stored
        .order
        .lines
        .iter()
        .find(|l| l.sku.as_deref() == Some("CASE"))
        .unwrap();
    assert_eq!(case.refund.0, 10_000);
    assert_eq!(stored.order.status, OrderStatus::Paid, "a partial refund");
    let before = f.store.counts().await.unwrap();
    for (topic, body, code) in [
        (
            "orders/create",
            "{\"id\": 1, \"name\": \"#1\", \"created_at\": \"yesterday\"}",
            "event_payload",
        ),
        (
            "orders/create",
            "{\"name\": \"#1\"; DROP TABLE orders; --\"}",
            "event_payload",
        ),
        ("orders/create", &"[".repeat(100_000), "event_payload"),
        ("orders/delete", "{}", "event_topic"),
    ] {
        let e = f.shopify(topic, "ev-bad", body, at).await.unwrap_err();
        assert_eq!(e.code(), code, "{topic} {e}");
        assert_eq!(e.kind().http_status(), 400);
    }
    assert_eq!(f.store.counts().await.unwrap(), before);
}

#[tokio::test]
async fn a_signed_event_from_any_platform_moves_its_order_once() {
    let f = Fixture::new().await;
    let secret = b"erp secret";
    let f = &f;
    let send = |body: &'static str| async move {
        let signature = guanxi_engage::signature(secret, body.as_bytes());
        let verified = Verified::guanxi(secret, body.as_bytes(), &signature).unwrap();
        events::event(f.shop(), verified, t("2026-11-11T00:00:00Z")).await
    };
    let paid = r#"{"id": "e2", "source": "taobao", "type": "order.paid", "at": "2026-11-11T00:20:00+08:00", "order": {"id": "T1"}}"#;
    let e = send(paid).await.unwrap_err();
    assert_eq!(e.code(), "event_order_unknown");
    send(
        r#"{"id": "e1", "source": "taobao", "type": "order.created", "at": "2026-11-11T00:05:00+08:00",
        "order": {"id": "T1", "customer": "buyer-1", "lines": [{"sku": "A", "amount": "99.00"}]}}"#,
    )
    .await
    .unwrap();
    assert!(matches!(send(paid).await.unwrap(), Received::Applied { .. }));
    assert_eq!(send(paid).await.unwrap(), Received::Repeated);
    let key = guanxi_domain::OrderKey {
        source: guanxi_domain::Source::parse("taobao").unwrap(),
        external_id: "T1".into(),
    };
    let stored = f.store.order(&key).await.unwrap().unwrap();
    assert_eq!((stored.order.status, stored.revision), (OrderStatus::Paid, 2));
    assert!(Verified::guanxi(secret, paid.as_bytes(), "sha256=00").is_none());
}

#[tokio::test]
async fn a_person_is_exported_whole_then_erased_from_the_store_and_the_lake() {
    let f = Fixture::new().await;
    f.shopify(
        "orders/paid",
        "ev-1",
        &order_body(Some("2026-11-29T09:05:00-05:00")),
        t("2026-11-29T15:00:00Z"),
    )
    .await
    .unwrap();
    let key = guanxi_app::events::customer_key("jon@example.com");
    let id = f.store.customer_id(&key).await.unwrap().unwrap();
    let by = Actor::cli();
    let data = guanxi_app::privacy::export(f.shop(), id, &by, Utc::now())
        .await
        .unwrap();
    let text = serde_json::to_string(&data).unwrap();
    assert!(text.contains("jon@example.com") && text.contains("Jon Snow") && text.contains("#9999"));
    let lake_text = || {
        let mut all = String::new();
        for file in f.lake.files().unwrap() {
            for batch in guanxi_lake::read(&file, Some(&["customer_external_id", "city"])).unwrap() {
                all.push_str(&format!("{:?}", batch.unwrap()));
            }
        }
        all
    };
    assert!(lake_text().contains("jon@example.com") && lake_text().contains("Ottawa"));
    let erased = guanxi_app::privacy::erase(f.shop(), id, &by).await.unwrap();
    assert_eq!((erased.customers, erased.orders), (1, 1));
    // The store: the record keeps its id and its orders' money, nothing personal.
    let c = f.store.customer_by_id(id).await.unwrap().unwrap();
    assert!(c.key.external_id.starts_with("erased-"), "{}", c.key.external_id);
    assert_eq!((c.name, c.email, c.mobile, c.city), (None, None, None, None));
    assert!(c.consents.is_empty() && c.tags.is_empty());
    assert_eq!(
        f.store.customer_id(&key).await.unwrap(),
        None,
        "the old key finds no one"
    );
    let order = f
        .store
        .order(&guanxi_app::events::order_key("#9999"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.customer_id, Some(id));
    assert_eq!(order.order.paid().0, 39_400 + 1_000, "the books keep the money");
    assert_eq!(order.order.city, None);
    // The lake: no row carries the old key or city any more.
    let lake = lake_text();
    assert!(!lake.contains("jon@example.com") && !lake.contains("Ottawa"), "{lake}");
    // An export now holds nothing personal; both are in the audit log.
    let after = serde_json::to_string(
        &guanxi_app::privacy::export(f.shop(), id, &by, Utc::now())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!after.contains("jon@example.com") && !after.contains("Jon Snow"));
    let log = guanxi_app::access::audit_log(&f.store, None, 100).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.contains(&"privacy.export") && actions.contains(&"privacy.erase"),
        "{actions:?}"
    );
}
