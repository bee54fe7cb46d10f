//! The pages over an empty store: they render, say what to do, and speak the language
//! the browser asks for.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guanxi_domain::report::{Granularity, OrderReports, Reports};
use guanxi_store_sqlite::SqliteStore;
use guanxi_web::{Analytics, AppState, router};
use tower::ServiceExt as _;

/// Reports from three hand-made customers (the web crate builds without the lake's engine);
/// the shop's order figures from the store's orders.
struct Fixed(Arc<SqliteStore>);

#[async_trait::async_trait]
impl Analytics for Fixed {
    async fn order_reports(&self, granularity: Granularity) -> Result<Reports, String> {
        use chrono::TimeZone as _;
        let at = |m: u32, d: u32| chrono::Utc.with_ymd_and_hms(2026, m, d, 4, 0, 0).unwrap();
        let order = |t, category: &str| guanxi_domain::profile::OrderFact {
            paid_at: t,
            paid: guanxi_domain::Cents(1000),
            goods: guanxi_domain::Cents(1000),
            discount: guanxi_domain::Cents(0),
            cost: guanxi_domain::Cents(0),
            refund: guanxi_domain::Cents(0),
            campaign: false,
            categories: vec![category.to_string()],
        };
        let mut r = OrderReports::new(at(6, 30), Default::default(), granularity);
        r.add(&[
            order(at(1, 10), "diapers"),
            order(at(2, 9), "diapers"),
            order(at(4, 10), "wipes"),
        ]);
        r.add(&[order(at(3, 1), "diapers")]);
        r.add(&[order(at(5, 1), "wipes")]);
        Ok(r.finish())
    }

    async fn order_figures(
        &self,
        granularity: Granularity,
    ) -> Result<Vec<guanxi_domain::report::PeriodOrders>, String> {
        guanxi_store::tables::order_figures(self.0.as_ref(), Default::default(), granularity)
            .await
            .map_err(|e| e.to_string())
    }
}

/// An empty store and lake in a temporary directory (kept while the guard lives), with
/// the fixed analytics.
async fn empty_shop() -> (tempfile::TempDir, Arc<SqliteStore>, AppState) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("g.db")).await.unwrap());
    let state = AppState {
        store: store.clone(),
        lake: guanxi_lake::Lake::new(dir.path().join("g.lake")),
        analytics: Arc::new(Fixed(store.clone())),
        tz: Default::default(),
        responses: None,
        counts: Default::default(),
    };
    (dir, store, state)
}

async fn get(state: AppState, uri: &str, accept_language: &str) -> (StatusCode, String) {
    let response = router(state)
        .oneshot(
            Request::get(uri)
                .header(header::ACCEPT_LANGUAGE, accept_language)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn pages_without_a_build_say_what_to_do_in_the_asked_language() {
    let (_dir, _, state) = empty_shop().await;
    let (status, page) = get(state.clone(), "/", "zh-CN,zh;q=0.9,en;q=0.8").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<html lang="zh-CN">"#), "{page}");
    assert!(page.contains("还没有客户画像"), "{page}");
    let (_, page) = get(state.clone(), "/customers?lang=en", "zh-CN").await;
    assert!(
        page.contains(r#"<html lang="en">"#) && page.contains("No profile build yet"),
        "{page}"
    );
    // The switch links to the same page in the other language.
    assert!(page.contains(r#"href="/customers?lang=zh-CN""#), "{page}");
    let (status, _) = get(state.clone(), "/nowhere", "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, page) = get(state, "/customers/42", "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Not found"), "{page}");
}

#[tokio::test]
async fn report_pages_show_the_table_and_export_it_as_csv() {
    let (_dir, _, state) = empty_shop().await;
    let (status, page) = get(state.clone(), "/reports?report=repurchase&period=quarter", "zh-CN").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("复购率") && page.contains("2026-Q1") && page.contains("<svg"),
        "{page}"
    );
    // Q1: two buyers, one bought twice: 50 %.
    assert!(page.contains("50.00"), "{page}");
    let (status, csv) = get(state.clone(), "/reports.csv?report=cohorts&period=month", "en").await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("first_month,customers,m0_pct"), "{csv}");
    assert_eq!(lines.len(), 4, "a header and three cohorts: {csv}");
    // The shop's orders report reads the store's orders, guest orders included: a guest's
    // paid order and a buyer's unpaid one in March.
    let src = guanxi_domain::Source::parse("t").unwrap();
    let order = |id: &str, buyer: Option<&str>, status| guanxi_domain::Order {
        key: guanxi_domain::OrderKey {
            source: src.clone(),
            external_id: id.into(),
        },
        customer: buyer.map(|b| guanxi_domain::CustomerKey {
            source: src.clone(),
            external_id: b.into(),
        }),
        status,
        created_at: chrono::DateTime::from_timestamp(1_773_000_000, 0).unwrap(),
        times: Default::default(),
        shipping_fee: guanxi_domain::Cents(0),
        currency: None,
        coupon: None,
        campaign: None,
        province: None,
        city: None,
        lines: vec![guanxi_domain::OrderLine {
            sku: None,
            title: None,
            category: None,
            quantity: 1,
            amount: guanxi_domain::Cents(1000),
            discount: guanxi_domain::Cents(0),
            cost: None,
            refund: guanxi_domain::Cents(0),
        }],
    };
    {
        let mut tx = state.store.begin().await.unwrap();
        tx.upsert_orders(&[
            order("g1", None, guanxi_domain::OrderStatus::Paid),
            order("b1", Some("ann"), guanxi_domain::OrderStatus::Created),
        ])
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let (status, csv) = get(state.clone(), "/reports.csv?report=orders&period=month", "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with("period,created,paid_orders,closed,refunded,guest,"),
        "{csv}"
    );
    assert!(csv.contains("\n2026-03,2,1,0,0,1,20.00,10.00,0.00,50.00,0.00"), "{csv}");
    let (status, page) = get(state.clone(), "/reports?report=orders&period=month", "zh-CN").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("付款率") && page.contains("无买家信息订单"), "{page}");
    let (status, why) = get(state, "/reports?report=nope", "en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(why.contains("repurchase, categories"), "{why}");
}

async fn post_form(state: AppState, uri: &str, form: &str) -> (StatusCode, Option<String>, String) {
    let response = router(state)
        .oneshot(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, location, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn saving_a_segment_checks_the_name_and_expression_next_to_the_fields() {
    let (_dir, store, state) = empty_shop().await;
    let (status, _, page) = post_form(state.clone(), "/segments", "lang=en&q=tier+%3D+%27vip%27&name=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains(r#"id="seg-name-error""#) && page.contains("needs a name"),
        "{page}"
    );
    let (status, _, page) = post_form(state.clone(), "/segments", "lang=en&q=tier+%3D&name=vip").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains(r#"id="seg-q-error""#) && page.contains('^'), "{page}");
    let (status, _, page) = post_form(state.clone(), "/segments", "lang=en&q=in+segment+%27nope%27&name=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("nope"), "{page}");
    let (status, location, _) = post_form(
        state,
        "/segments",
        "lang=en&q=tier+%3D+%27vip%27&name=VIPs&description=top",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().contains("saved=VIPs"));
    let saved = guanxi_store::Store::segments(store.as_ref()).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(
        (saved[0].name.as_str(), saved[0].expression.as_str()),
        ("VIPs", "tier = 'vip'")
    );
}

#[tokio::test]
async fn the_programs_page_lists_every_program_on_or_off_in_both_languages() {
    use guanxi_store::Outbox as _;
    let (_dir, store, state) = empty_shop().await;
    let (status, page) = get(state.clone(), "/programs", "en").await;
    assert_eq!(status, StatusCode::OK);
    for p in guanxi_domain::program::builtin() {
        assert!(page.contains(&p.title), "{} on the page: {page}", p.title);
    }
    assert_eq!(page.matches("<span>Off</span>").count(), 6, "{page}");
    assert!(page.contains(r#"aria-current="page">Programs"#), "{page}");
    let reminder = guanxi_domain::program::builtin().remove(0);
    store
        .save_program(
            &guanxi_store::ProgramState {
                name: reminder.name.clone(),
                definition: toml::to_string(&reminder).unwrap(),
                enabled: true,
                since: chrono::DateTime::from_timestamp(1_782_000_000, 0),
                updated_at: chrono::Utc::now(),
            },
            "tester",
        )
        .await
        .unwrap();
    let (_, page) = get(state.clone(), "/programs", "zh-CN").await;
    assert!(page.contains("已启用，自") && page.contains("营销程序"), "{page}");
    assert_eq!(page.matches("<span>未启用</span>").count(), 5, "{page}");
}

/// Two profiled customers, one with a mobile number; the build as of 2026-06-30.
async fn two_profiled(state: &AppState) {
    let src = guanxi_domain::Source::parse("t").unwrap();
    let customer = |id: &str| {
        let mut c = guanxi_domain::Customer::bare(guanxi_domain::CustomerKey {
            source: src.clone(),
            external_id: id.into(),
        });
        c.name = Some(format!("Name {id}"));
        c
    };
    let mut ann = customer("ann");
    ann.mobile = Some(guanxi_domain::Contact::mobile("13812345678"));
    let mut tx = state.store.begin().await.unwrap();
    tx.upsert_customers(&[ann, customer("bob")]).await.unwrap();
    tx.commit().await.unwrap();
    let id = |k: &str| {
        let key = guanxi_domain::CustomerKey {
            source: src.clone(),
            external_id: k.into(),
        };
        let store = state.store.clone();
        async move { store.customer(&key).await.unwrap().unwrap().0 }
    };
    let row = |customer_id: i64, relationship: &str| guanxi_store::ProfileRow {
        customer_id,
        classes: [Some(relationship.to_string()), None, None, None, None, None, None, None],
        r: None,
        f: None,
        m: None,
        recency_days: Some(12),
        paid_orders: 2,
        frequency: 1,
        cycle_days: None,
        discount_share: 0.5,
        complaint_count: 0,
        praise_count: 0,
        paid_amount_cents: 12_345,
        profit_cents: 2_000,
        refunds_cents: 0,
        monetary_cents: 6_172,
        won_back: false,
        upgrade_potential: true,
        first_paid_at: None,
        last_paid_at: None,
        p_alive: Some(0.8),
        expected_purchases: None,
        clv_cents: Some(5_000),
        next_purchase_at: None,
    };
    let as_of = chrono::DateTime::from_timestamp(1_782_777_600, 0).unwrap();
    let build = guanxi_store::BuildRecord {
        id: 0,
        as_of,
        built_at: as_of,
        customers: 2,
        transitions: 0,
        summary: "{}".into(),
    };
    let rows = vec![row(id("ann").await, "loyal"), row(id("bob").await, "new")];
    state.store.save_build(&build, &mut rows.into_iter()).await.unwrap();
}

#[tokio::test]
async fn the_customers_page_exports_its_filter_as_csv_with_contacts_masked() {
    let (_dir, _, state) = empty_shop().await;
    let (status, _) = get(state.clone(), "/customers.csv", "en").await;
    assert_eq!(status, StatusCode::CONFLICT, "no build yet");
    two_profiled(&state).await;

    let (_, page) = get(state.clone(), "/customers?relationship=loyal&lang=en", "en").await;
    assert!(
        page.contains(r#"href="/customers.csv?q=relationship%20%3D%20%27loyal%27""#),
        "{page}"
    );

    let (status, csv) = get(state.clone(), "/customers.csv", "en").await;
    assert_eq!(status, StatusCode::OK);
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, guanxi_store::tables::CUSTOMER_EXPORT_HEADER);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    assert_eq!(&rows[0][col("external_id")], "ann");
    assert_eq!(
        &rows[0][col("mobile")],
        "138****5678",
        "the web never shows a number whole"
    );
    assert_eq!(&rows[0][col("paid_amount")], "123.45");
    assert_eq!(&rows[0][col("clv")], "50.00");
    assert_eq!(&rows[0][col("consent_sms")], "unknown");
    assert_eq!(&rows[1][col("mobile")], "");

    let (status, csv) = get(state.clone(), "/customers.csv?q=relationship%20%3D%20%27loyal%27", "en").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 2, "a header and ann: {csv}");
    let (status, why) = get(state, "/customers.csv?q=tier%20%3D", "en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(why.contains("q:1:"), "{why}");
}
