//! The pages over an empty store: they render, say what to do, and speak the language
//! the browser asks for.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guanxi_domain::access::{Capability, Role};
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
        limits: Default::default(),
        live: Default::default(),
        writing: Default::default(),
        membership: Default::default(),
        warming: Default::default(),
    };
    (dir, store, state)
}

/// A session of a user with `role` (added the first time): the cookie and the form token.
async fn signed_in(state: &AppState, role: Role) -> (String, String) {
    use guanxi_app::access::{self, Actor};
    let name = format!("test-{role}");
    if state.store.user_named(&name).await.unwrap().is_none() {
        access::add_user(state.store.as_ref(), &name, role, "a long test password", &Actor::cli())
            .await
            .unwrap();
    }
    let s = access::sign_in(
        state.store.as_ref(),
        &name,
        "a long test password",
        "test",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    (format!("{}={}", guanxi_web::auth::COOKIE, s.token), s.session.csrf)
}

/// An API token of the user `test-{role}` (added the first time) with `scopes`.
async fn token(state: &AppState, role: Role, scopes: &[Capability]) -> String {
    use guanxi_app::access::{self, Actor};
    signed_in(state, role).await;
    access::create_token(
        state.store.as_ref(),
        &format!("test-{role}"),
        "api",
        scopes,
        7,
        &Actor::cli(),
    )
    .await
    .unwrap()
    .0
}

async fn get(state: AppState, uri: &str, accept_language: &str) -> (StatusCode, String) {
    let (cookie, _) = signed_in(&state, Role::Admin).await;
    get_as(state, uri, accept_language, Some(&cookie)).await
}

/// A GET with the session `cookie` (none: not signed in).
async fn get_as(state: AppState, uri: &str, accept_language: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(uri).header(header::ACCEPT_LANGUAGE, accept_language);
    if let Some(c) = cookie {
        request = request.header(header::COOKIE, c);
    }
    let response = router(state)
        .oneshot(request.body(Body::empty()).unwrap())
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

/// `/healthz` needs no session and says "warming" (503) while a start-up read runs, then
/// "ready"; a warming task that panics still counts as ended.
#[tokio::test]
async fn healthz_answers_503_while_the_server_warms_then_200() {
    let (_dir, _, state) = empty_shop().await;
    let (status, body) = get_as(state.clone(), "/healthz", "en", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"status":"ready"}"#));
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    state.warming.spawn(async move {
        let _ = held.await;
    });
    state.warming.spawn(async { panic!("a warming read failed") });
    let (status, body) = get_as(state.clone(), "/healthz", "en", None).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"warming"}"#)
    );
    release.send(()).unwrap();
    for _ in 0..100 {
        if state.warming.ready() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (status, _) = get_as(state, "/healthz", "en", None).await;
    assert_eq!(status, StatusCode::OK);
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
    let (cookie, csrf) = signed_in(&state, Role::Admin).await;
    post_as(state, uri, &format!("{form}&csrf={csrf}"), Some(&cookie), None).await
}

/// A form POST with the session `cookie` and the browser's `Origin` header, if any.
async fn post_as(
    state: AppState,
    uri: &str,
    form: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:8080");
    if let Some(c) = cookie {
        request = request.header(header::COOKIE, c);
    }
    if let Some(o) = origin {
        request = request.header(header::ORIGIN, o);
    }
    let response = router(state)
        .oneshot(request.body(Body::from(form.to_string())).unwrap())
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

/// An API call as a program makes it: `Authorization: Bearer` when given, a JSON body;
/// the status and the JSON answer (null when the answer is not JSON).
async fn api(
    state: &AppState,
    method: &str,
    bearer: Option<&str>,
    uri: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(s) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {s}"));
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
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
    let saved = guanxi_store::Segments::segments(store.as_ref()).await.unwrap();
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
    assert_eq!(page.matches("<span>Off</span>").count(), 7, "{page}");
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
    assert_eq!(page.matches("<span>未启用</span>").count(), 6, "{page}");
}

/// Two profiled customers, one with a mobile number; the build as of 2026-06-30. Their
/// ids: (ann, bob).
async fn two_profiled(state: &AppState) -> (i64, i64) {
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
    ann.email = Some(guanxi_domain::Contact::email("ann@example.com"));
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
    let (ann, bob) = (id("ann").await, id("bob").await);
    let rows = vec![row(ann, "loyal"), row(bob, "new")];
    state.store.save_build(&build, &mut rows.into_iter()).await.unwrap();
    (ann, bob)
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

/// Every route × every role: allowed (200, or what the page answers for an empty shop)
/// or 403; 401 without a session (pages with the sign-in form, `/api/` with JSON). Forms
/// need the session's token and the server's origin. An agent never sees a contact
/// unmasked.
#[tokio::test]
async fn each_role_reaches_its_pages_and_nothing_else() {
    let (_dir, _store, state) = empty_shop().await;
    let (ann, _) = two_profiled(&state).await;
    let customer = format!("/customers/{ann}");
    let api_customer = format!("/api/v1/customers/{ann}");
    let api_history = format!("/api/v1/customers/{ann}/history");
    let privacy_export = format!("/api/v1/customers/{ann}/privacy-export");
    let api_points = format!("/api/v1/customers/{ann}/points");
    let api_coupons = format!("/api/v1/customers/{ann}/coupons");
    let routes: [(&str, Capability); 31] = [
        (&api_points, Capability::ReadCustomer),
        (&api_coupons, Capability::ReadCustomer),
        ("/api/v1/coupons", Capability::ReadCustomer),
        ("/api/v1/points/liability", Capability::ReadReports),
        (&api_customer, Capability::ReadCustomer),
        ("/api/v1/campaigns", Capability::ReadReports),
        ("/api/v1/service-records", Capability::Tasks),
        ("/api/v1/reviews", Capability::ReadCustomer),
        ("/api/v1/programs/second-purchase/stats", Capability::Programs),
        (&api_history, Capability::ReadCustomer),
        ("/api/v1/profiles", Capability::Segments),
        ("/api/v1/customers?s=ann", Capability::ReadCustomer),
        ("/api/v1/customers/duplicates", Capability::ReadCustomer),
        (
            "/api/v1/segments/export?q=relationship%20%3D%20%27loyal%27",
            Capability::ExportCustomers,
        ),
        ("/api/v1/orders", Capability::ReadCustomer),
        (
            "/api/v1/segments/members?q=relationship%20%3D%20%27loyal%27",
            Capability::Segments,
        ),
        ("/api/v1/tasks", Capability::Tasks),
        ("/api/v1/reports/classes", Capability::ReadReports),
        ("/api/v1/reports/repurchase?period=quarter", Capability::ReadReports),
        (&privacy_export, Capability::Administer),
        ("/", Capability::ReadReports),
        ("/reports?report=classes", Capability::ReadReports),
        ("/reports.csv?report=classes", Capability::ReadReports),
        ("/customers", Capability::Segments),
        ("/api/segment/count?q=tier%20%3D%20%27vip%27", Capability::Segments),
        ("/customers.csv", Capability::ExportCustomers),
        (&customer, Capability::ReadCustomer),
        ("/programs", Capability::Programs),
        ("/campaigns", Capability::ReadReports),
        ("/tasks", Capability::Tasks),
        ("/audit", Capability::Administer),
    ];
    for (route, _) in &routes {
        let (status, body) = get_as(state.clone(), route, "en", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route} without a session");
        if route.starts_with("/api/") {
            assert!(body.contains(r#""code":"unauthorized""#), "{body}");
        } else {
            assert!(body.contains(r#"action="/login"#), "{route}: the sign-in form\n{body}");
        }
    }
    for role in Role::ALL {
        let (cookie, _) = signed_in(&state, *role).await;
        for (route, capability) in &routes {
            let (status, body) = get_as(state.clone(), route, "en", Some(&cookie)).await;
            let want = if role.may(*capability) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, want, "{role} {route}");
            if *role == Role::Agent {
                // The fixtures' contacts: 13812345678 and ann@example.com, masked.
                assert!(
                    !body.contains("13812345678") && !body.contains("ann@example.com"),
                    "{route}: {body}"
                );
            }
        }
    }
    // The navigation offers only what the role may open.
    let (cookie, _) = signed_in(&state, Role::Agent).await;
    let (_, tasks) = get_as(state.clone(), "/tasks", "en", Some(&cookie)).await;
    assert!(
        tasks.contains(r#"href="/tasks?"#) && !tasks.contains(r#"href="/programs?"#),
        "{tasks}"
    );
    // The audit log (admins) shows the sign-ins and the exports made above, with where
    // they came from.
    let (status, audit) = get(state.clone(), "/audit?since=2000-01-01&lang=en", "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(audit.contains("customers.export") && audit.contains("login"), "{audit}");
    let (status, _) = get(state.clone(), "/audit?since=yesterday", "en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Forms: the session's token and the server's origin, or 403 and nothing changed.
    let (cookie, csrf) = signed_in(&state, Role::Marketer).await;
    let form = "lang=en&q=tier+%3D+%27vip%27&name=vips&description=";
    let (status, _, _) = post_as(state.clone(), "/segments", form, Some(&cookie), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token");
    let stale = format!("{form}&csrf=0000");
    let (status, _, _) = post_as(state.clone(), "/segments", &stale, Some(&cookie), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another token");
    let good = format!("{form}&csrf={csrf}");
    let (status, _, _) = post_as(
        state.clone(),
        "/segments",
        &good,
        Some(&cookie),
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another origin");
    assert!(state.store.segments().await.unwrap().is_empty(), "nothing saved");
    let (status, _, _) = post_as(
        state.clone(),
        "/segments",
        &good,
        Some(&cookie),
        Some("http://127.0.0.1:8080"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "saved");
    assert_eq!(state.store.segments().await.unwrap().len(), 1);
    let log = state.store.audit_log(None, 1000).await.unwrap();
    let saved: Vec<_> = log.iter().filter(|e| e.action == "segment.save").collect();
    assert_eq!(
        (saved.len(), saved[0].actor.as_str(), saved[0].subject.as_str()),
        (1, "test-marketer", "segment:vips"),
        "{log:?}"
    );
    // An agent reveals one customer's contacts with a reason (audited); without a reason
    // it is refused; a marketer may not.
    let reveal = format!("/customers/{ann}/reveal");
    let (cookie, csrf) = signed_in(&state, Role::Agent).await;
    let (_, page) = get_as(state.clone(), &customer, "en", Some(&cookie)).await;
    assert!(page.contains(&format!(r#"action="{reveal}""#)), "{page}");
    let (status, _, _) = post_as(
        state.clone(),
        &reveal,
        &format!("reason=&csrf={csrf}"),
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let form = format!("reason=she+called+about+a+parcel&lang=en&csrf={csrf}");
    let (status, _, shown) = post_as(state.clone(), &reveal, &form, Some(&cookie), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        shown.contains("13812345678") && shown.contains("ann@example.com"),
        "{shown}"
    );
    let (cookie, csrf) = signed_in(&state, Role::Marketer).await;
    let (_, page) = get_as(state.clone(), "/customers", "en", Some(&cookie)).await;
    assert!(!page.contains("/reveal"), "{page}");
    let form = format!("reason=curious&csrf={csrf}");
    let (status, _, _) = post_as(state.clone(), &reveal, &form, Some(&cookie), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let log = state.store.audit_log(None, 1000).await.unwrap();
    let reveals: Vec<_> = log.iter().filter(|e| e.action == "contact.reveal").collect();
    assert_eq!(reveals.len(), 1, "{log:?}");
    assert_eq!(
        (
            reveals[0].actor.as_str(),
            reveals[0].detail.as_str(),
            reveals[0].subject.clone()
        ),
        ("test-agent", "she called about a parcel", format!("customer:{ann}"))
    );
    // Signing in: a wrong password is 401 with the form again; a right one a new session
    // cookie (HTTP-only, SameSite=Strict) and the way back to where the user was going.
    let (status, _, page) = post_as(
        state.clone(),
        "/login",
        "name=test-analyst&password=wrong&next=%2Freports",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Wrong name or password"), "{page}");
    let response = router(state.clone())
        .oneshot(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(
                    "name=test-analyst&password=a+long+test+password&next=%2F%2Fevil.example",
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/", "never to another site");
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
}

/// API tokens: `Authorization: Bearer` reaches what both the token's scopes and its
/// user's role allow (403 otherwise), no form token is asked (a token is no cookie), and
/// a revoked, unknown or malformed one is 401.
#[tokio::test]
async fn api_tokens_reach_their_scopes_and_nothing_else() {
    use guanxi_app::access::{self, Actor};
    let (_dir, _store, state) = empty_shop().await;
    two_profiled(&state).await;
    signed_in(&state, Role::Analyst).await;
    let cli = Actor::cli();
    let (segments, t) = access::create_token(
        state.store.as_ref(),
        "test-analyst",
        "sync",
        &[Capability::Segments],
        30,
        &cli,
    )
    .await
    .unwrap();
    assert!(segments.starts_with("gx_"));
    let (reports, _) = access::create_token(
        state.store.as_ref(),
        "test-analyst",
        "charts",
        &[Capability::ReadReports],
        30,
        &cli,
    )
    .await
    .unwrap();
    let beyond = access::create_token(
        state.store.as_ref(),
        "test-analyst",
        "too much",
        &[Capability::ExportCustomers],
        30,
        &cli,
    )
    .await
    .unwrap_err();
    assert_eq!(beyond.code(), "scope_not_in_role");
    let call = |method: &str, uri: &str, secret: &str, body: &str| {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap();
        let app = router(state.clone());
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let count = "/api/segment/count?q=tier%20%3D%20%27vip%27";
    let (status, body) = call("GET", count, &segments, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""customers""#), "{body}");
    assert_eq!(
        call("GET", count, &reports, "").await.0,
        StatusCode::FORBIDDEN,
        "not in its scopes"
    );
    assert_eq!(call("GET", "/", &reports, "").await.0, StatusCode::OK);
    assert_eq!(
        call("GET", "/customers.csv", &segments, "").await.0,
        StatusCode::FORBIDDEN
    );
    let saved = call(
        "POST",
        "/segments",
        &segments,
        "lang=en&q=tier+%3D+%27vip%27&name=vips&description=",
    )
    .await;
    assert_eq!(saved.0, StatusCode::SEE_OTHER, "no form token for a token: {}", saved.1);
    access::revoke_token(state.store.as_ref(), t.id, &cli).await.unwrap();
    let (status, body) = call("GET", count, &segments, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains(r#""code":"unauthorized""#), "{body}");
    assert_eq!(call("GET", count, "gx_0000", "").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call("GET", count, "not a token", "").await.0, StatusCode::UNAUTHORIZED);
}

/// A marketer turns a program on and off from the programs page (each audited under
/// their name); an unknown program is a 400; an analyst may not.
#[tokio::test]
async fn marketers_turn_programs_on_and_off_from_the_page() {
    let (_dir, _store, state) = empty_shop().await;
    let (cookie, csrf) = signed_in(&state, Role::Marketer).await;
    let (_, page) = get_as(state.clone(), "/programs?lang=en", "en", Some(&cookie)).await;
    assert!(page.contains(r#"action="/programs/enable""#), "{page}");
    let switch = |to: &'static str, name: &'static str| {
        let (state, cookie, csrf) = (state.clone(), cookie.clone(), csrf.clone());
        async move {
            post_as(
                state,
                &format!("/programs/{to}"),
                &format!("name={name}&lang=en&csrf={csrf}"),
                Some(&cookie),
                None,
            )
            .await
        }
    };
    let (status, location, _) = switch("enable", "payment-reminder").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/programs?lang=en#p-payment-reminder"));
    let stored = state.store.programs().await.unwrap();
    assert_eq!((stored.len(), stored[0].enabled), (1, true));
    let (_, page) = get_as(state.clone(), "/programs?lang=en", "en", Some(&cookie)).await;
    assert!(page.contains(r#"action="/programs/disable""#), "{page}");
    let (status, _, _) = switch("disable", "payment-reminder").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!state.store.programs().await.unwrap()[0].enabled);
    // A use case's bad input is answered as the one table says: 400, its code, its message.
    let (status, _, body) = switch("enable", "no-such-program").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "program_unknown", "{body}");
    assert!(body["message"].as_str().unwrap().contains("no-such-program"), "{body}");
    assert_eq!(
        switch("disable", "order-care").await.0,
        StatusCode::BAD_REQUEST,
        "never stored"
    );
    let actions: Vec<(String, String)> = state
        .store
        .audit_log(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("program."))
        .map(|e| (e.actor, e.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("test-marketer".to_string(), "program.enable".to_string()),
            ("test-marketer".to_string(), "program.disable".to_string())
        ]
    );
    let (cookie, csrf) = signed_in(&state, Role::Analyst).await;
    let form = format!("name=payment-reminder&csrf={csrf}");
    let (status, _, _) = post_as(state.clone(), "/programs/enable", &form, Some(&cookie), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A token (and a client address) past its quota gets 429 with `Retry-After` and the
/// error's code, and the server goes on answering others.
#[tokio::test]
async fn requests_past_a_quota_are_refused_until_it_refills() {
    use guanxi_app::access::{self, Actor};
    use guanxi_web::auth::{Limits, Quotas};
    let (_dir, _store, mut state) = empty_shop().await;
    state.limits = Arc::new(Limits::new(Quotas {
        per_address: 1000,
        per_token: 3,
        ..Quotas::default()
    }));
    signed_in(&state, Role::Analyst).await;
    let (secret, _) = access::create_token(
        state.store.as_ref(),
        "test-analyst",
        "busy",
        &[Capability::ReadReports],
        1,
        &Actor::cli(),
    )
    .await
    .unwrap();
    let call = |secret: String| {
        let app = router(state.clone());
        async move {
            let request = Request::get("/reports?report=classes")
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .body(Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(call(secret.clone()).await.status(), StatusCode::OK);
    }
    let refused = call(secret.clone()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "60");
    let body = axum::body::to_bytes(refused.into_body(), 1 << 16).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains(r#""code":"rate_limited""#));
    // Someone else is still answered.
    let (status, _) = get(state.clone(), "/reports?report=classes", "en").await;
    assert_eq!(status, StatusCode::OK);
}

/// The REST API: its OpenAPI document is public and names every endpoint; each endpoint
/// answers a token within its scopes with JSON, and errors as `{code, message, details}`.
#[tokio::test]
async fn the_rest_api_answers_tokens_and_describes_itself() {
    use guanxi_app::access::{self, Actor};
    let (_dir, _store, state) = empty_shop().await;
    two_profiled(&state).await;
    signed_in(&state, Role::Marketer).await;
    let (secret, _) = access::create_token(
        state.store.as_ref(),
        "test-marketer",
        "api",
        &[Capability::Segments],
        7,
        &Actor::cli(),
    )
    .await
    .unwrap();
    let (status, doc) = api(&state, "GET", None, "/api/v1/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    // Every route under /api/v1 the router serves is in the document.
    for path in [
        "/api/v1/me",
        "/api/v1/segments/count",
        "/api/v1/segments/members",
        "/api/v1/segments/export",
        "/api/v1/programs",
        "/api/v1/programs/{name}/enable",
        "/api/v1/programs/{name}/disable",
        "/api/v1/programs/{name}/preview",
        "/api/v1/programs/{name}/stats",
        "/api/v1/service-records",
        "/api/v1/reviews",
        "/api/v1/campaigns",
        "/api/v1/campaigns/{name}/launch",
        "/api/v1/campaigns/{name}/members",
        "/api/v1/campaigns/{name}/report",
        "/api/v1/campaigns/{name}/preview",
        "/api/v1/customers",
        "/api/v1/customers/duplicates",
        "/api/v1/customers/merge",
        "/api/v1/customers/{id}",
        "/api/v1/customers/{id}/history",
        "/api/v1/profiles",
        "/api/v1/customers/{id}/privacy-export",
        "/api/v1/customers/{id}/erase",
        "/api/v1/orders",
        "/api/v1/tasks",
        "/api/v1/tasks/done",
        "/api/v1/reports/classes",
        "/api/v1/reports/{name}",
        "/api/v1/webhooks/shopify",
        "/api/v1/events",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} in {doc}");
    }
    assert!(doc["components"]["schemas"]["ApiError"].is_object());
    let (status, me) = api(&state, "GET", Some(&secret), "/api/v1/me", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("test-marketer"), Some("marketer"))
    );
    assert_eq!(me["scopes"], serde_json::json!(["segments"]));
    let (status, count) = api(
        &state,
        "GET",
        Some(&secret),
        "/api/v1/segments/count?q=relationship%20%3D%20%27loyal%27",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{count}");
    assert_eq!(count["customers"], 1);
    assert_eq!(count["expression"], "relationship = 'loyal'");
    let (status, bad) = api(&state, "GET", Some(&secret), "/api/v1/segments/count?q=tier%20%3D", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["code"], "segment_syntax");
    assert!(bad["details"].is_object());
    // A query that does not parse is JSON too (schemathesis found it answered in text).
    let (status, missing) = api(&state, "GET", Some(&secret), "/api/v1/segments/count", "").await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_query"))
    );
    let (status, denied) = api(&state, "GET", Some(&secret), "/api/v1/programs", "").await;
    assert_eq!(
        (status, denied["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (programs, _) = access::create_token(
        state.store.as_ref(),
        "test-marketer",
        "programs",
        &[Capability::Programs],
        7,
        &Actor::cli(),
    )
    .await
    .unwrap();
    let (status, list) = api(&state, "GET", Some(&programs), "/api/v1/programs", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(7), "the built-ins: {list}");
    assert!(list.as_array().unwrap().iter().all(|p| p["enabled"] == false));
    let (status, anonymous) = api(&state, "GET", None, "/api/v1/me", "").await;
    assert_eq!(
        (status, anonymous["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
}

/// A signed Shopify webhook: applied once (a retry is a 200 that changes nothing), the
/// scheduler woken; a wrong or missing signature is 401, audited; without a configured
/// secret the endpoint is 404. The buyer it brings is masked for an agent everywhere,
/// their key (their e-mail, as Shopify's export names them) too.
#[tokio::test]
async fn shopify_webhooks_are_verified_applied_once_and_wake_the_scheduler() {
    let (_dir, _store, mut state) = empty_shop().await;
    let secret = b"shpss_secret".to_vec();
    let body = include_str!("../../guanxi-import/tests/data/shopify-webhooks/orders-create.json");
    let send = |state: AppState, signature: String, id: &'static str| async move {
        let req = Request::post("/api/v1/webhooks/shopify")
            .header("content-type", "application/json")
            .header("x-shopify-topic", "orders/create")
            .header("x-shopify-event-id", id)
            .header("x-shopify-hmac-sha256", signature)
            .body(Body::from(body))
            .unwrap();
        let res = guanxi_web::router(state).oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    };
    let good = guanxi_app::events::shopify_signature(&secret, body.as_bytes());
    let (status, text) = send(state.clone(), good.clone(), "ev-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no secret configured: {text}");
    state.live.shopify_secret = Some(secret.clone());
    let wake = state.live.wake.clone();
    let (status, text) = send(state.clone(), good.clone(), "ev-1").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains(r#""outcome":"applied""#) && text.contains("#9999"),
        "{text}"
    );
    // The engine was told: its next wait ends at once.
    tokio::time::timeout(std::time::Duration::from_millis(100), wake.notified())
        .await
        .expect("the scheduler was woken");
    let (status, text) = send(state.clone(), good.clone(), "ev-1").await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, r#"{"outcome":"repeated"}"#));
    let before = state.store.counts().await.unwrap();
    let wrong = guanxi_app::events::shopify_signature(b"another secret", body.as_bytes());
    for signature in [wrong, String::new(), "%%%".into()] {
        let (status, text) = send(state.clone(), signature, "ev-2").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
        assert!(text.contains(r#""code":"bad_signature""#), "{text}");
    }
    assert_eq!(state.store.counts().await.unwrap(), before, "nothing applied");
    let log = guanxi_app::access::audit_log(state.store.as_ref(), None, 100)
        .await
        .unwrap();
    assert_eq!(log.iter().filter(|a| a.action == "event.refused").count(), 3);
    // An agent meets the buyer masked on every page and endpoint they may reach.
    let key = guanxi_app::events::customer_key("jon@example.com");
    let id = state.store.customer(&key).await.unwrap().unwrap().0;
    let (cookie, _) = signed_in(&state, Role::Agent).await;
    for route in [
        format!("/customers/{id}"),
        format!("/api/v1/customers/{id}"),
        "/tasks".into(),
    ] {
        let (status, page) = get_as(state.clone(), &route, "en", Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert!(!page.contains("jon@example.com"), "{route}: {page}");
    }
    let (_, page) = get_as(state.clone(), &format!("/api/v1/customers/{id}"), "en", Some(&cookie)).await;
    assert!(page.contains("j***@example.com"), "{page}");
}

/// Privacy through the API: an admin exports a person (unmasked, audited) and erases
/// them; an agent may do neither; a bad id is a JSON 400.
#[tokio::test]
async fn admins_export_and_erase_a_person_through_the_api() {
    let (_dir, _store, state) = empty_shop().await;
    let (ann, _) = two_profiled(&state).await;
    let (agent, agent_csrf) = signed_in(&state, Role::Agent).await;
    let (status, _) = get_as(
        state.clone(),
        &format!("/api/v1/customers/{ann}/privacy-export"),
        "en",
        Some(&agent),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post_as(
        state.clone(),
        &format!("/api/v1/customers/{ann}/erase"),
        &format!("csrf={agent_csrf}"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (admin, admin_csrf) = signed_in(&state, Role::Admin).await;
    // Points and coupons are the person's data too.
    let by = guanxi_app::access::Actor::cli();
    let issue = guanxi_app::coupons::Issue {
        customer_id: ann,
        coupon: "BIRTHDAY".into(),
        key: None,
    };
    let coupon = guanxi_app::coupons::issue(
        state.store.as_ref(),
        &Default::default(),
        &issue,
        &by,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let (status, data) = get_as(
        state.clone(),
        &format!("/api/v1/customers/{ann}/privacy-export"),
        "en",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{data}");
    assert!(
        data.contains("ann@example.com") && data.contains("13812345678"),
        "{data}"
    );
    let exported: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(exported["membership"][0][1][0]["code"], coupon.code.as_str(), "{data}");
    assert_eq!(exported["membership"][0][0]["balance"], 0, "{data}");
    let (status, _, text) = post_as(
        state.clone(),
        &format!("/api/v1/customers/{ann}/erase"),
        "",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a form without its token: {text}");
    let (status, _, text) = post_as(
        state.clone(),
        &format!("/api/v1/customers/{ann}/erase"),
        &format!("csrf={admin_csrf}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(r#""customers":1"#), "{text}");
    let (_, data) = get_as(
        state.clone(),
        &format!("/api/v1/customers/{ann}/privacy-export"),
        "en",
        Some(&admin),
    )
    .await;
    assert!(
        !data.contains("ann@example.com") && !data.contains("13812345678") && !data.contains("Name ann"),
        "{data}"
    );
    let (status, text) = get_as(state.clone(), "/api/v1/customers/abc", "en", Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains(r#""code":"bad_path""#), "{text}");
    let (status, text) = get_as(state.clone(), "/api/v1/customers/999999", "en", Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let log = guanxi_app::access::audit_log(state.store.as_ref(), None, 100)
        .await
        .unwrap();
    assert!(
        log.iter().any(|a| a.action == "privacy.erase" && a.actor != "cli"),
        "{log:?}"
    );
}

/// The rest of the API a token calls: a segment's members a page at a time (the cursor
/// walks every member once), customers found, orders as a feed, the classes' report,
/// programs switched on and off (audited under the token's user), tasks; bad parameters
/// are JSON 400s naming the parameter.
#[tokio::test]
async fn api_pages_walk_with_a_cursor_and_programs_switch() {
    use guanxi_app::access;
    let (_dir, _store, state) = empty_shop().await;
    two_profiled(&state).await;
    let secret = token(
        &state,
        Role::Admin,
        &[
            Capability::Segments,
            Capability::ReadCustomer,
            Capability::Programs,
            Capability::Tasks,
            Capability::ReadReports,
        ],
    )
    .await;
    // Both profiled customers, one a page: the cursor walks them once each.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = api(
            &state,
            "GET",
            Some(&secret),
            &format!("/api/v1/segments/members?q=paid_orders%20%3E%3D%201&limit=1&after={after}"),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["external_id"].as_str().unwrap().to_string()),
        );
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["ann", "bob"]);
    let (status, bad) = api(
        &state,
        "GET",
        Some(&secret),
        "/api/v1/segments/members?q=tier%20%3D",
        "",
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("segment_syntax"))
    );
    let (status, bad) = api(&state, "GET", Some(&secret), "/api/v1/orders?limit=lots", "").await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_query"))
    );
    let (status, found) = api(&state, "GET", Some(&secret), "/api/v1/customers?s=13812345678", "").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found[0]["external_id"], "ann");
    let (status, orders) = api(&state, "GET", Some(&secret), "/api/v1/orders", "").await;
    assert_eq!(
        (status, orders["next_after"].clone()),
        (StatusCode::OK, serde_json::Value::Null)
    );
    let (status, repurchase) = api(
        &state,
        "GET",
        Some(&secret),
        "/api/v1/reports/repurchase?period=quarter",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{repurchase}");
    assert!(
        repurchase["repurchase"].is_array() && repurchase["as_of"].is_string(),
        "{repurchase}"
    );
    let (status, orders) = api(&state, "GET", Some(&secret), "/api/v1/reports/orders?period=month", "").await;
    assert_eq!(status, StatusCode::OK, "{orders}");
    assert!(orders["periods"].is_array(), "{orders}");
    let (status, bad) = api(
        &state,
        "GET",
        Some(&secret),
        "/api/v1/reports/repurchase?period=week",
        "",
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_period"))
    );
    let (status, moves) = api(
        &state,
        "GET",
        Some(&secret),
        "/api/v1/reports/movements?since=2026-01-01",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moves}");
    assert!(moves["movements"].is_array(), "{moves}");
    let (status, bad) = api(
        &state,
        "GET",
        Some(&secret),
        "/api/v1/reports/movements?since=yesterday",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert!(
        bad["message"].as_str().unwrap_or_default().starts_with("since"),
        "{bad}"
    );
    let (status, clv) = api(&state, "GET", Some(&secret), "/api/v1/reports/clv", "").await;
    assert_eq!(status, StatusCode::OK, "{clv}");
    assert!(clv["buckets"].is_array(), "{clv}");
    let (status, bad) = api(&state, "GET", Some(&secret), "/api/v1/reports/nope", "").await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("report_unknown"))
    );
    let (status, profiles) = api(&state, "GET", Some(&secret), "/api/v1/profiles?limit=1", "").await;
    assert_eq!(status, StatusCode::OK, "{profiles}");
    assert_eq!(
        profiles["profiles"][0]["profile"]["classes"],
        serde_json::json!({"relationship": "loyal"})
    );
    assert_eq!(profiles["profiles"][0]["profile"]["paid_amount_cents"], 12_345);
    let after = profiles["next_after"].as_i64().expect("a next page");
    let (_, next) = api(
        &state,
        "GET",
        Some(&secret),
        &format!("/api/v1/profiles?after={after}"),
        "",
    )
    .await;
    assert_eq!(next["profiles"][0]["profile"]["classes"]["relationship"], "new");
    assert!(next["next_after"].is_null(), "{next}");
    let (status, history) = api(
        &state,
        "GET",
        Some(&secret),
        &format!("/api/v1/customers/{after}/history"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        history["orders"].is_array() && history["reviews"].is_array(),
        "{history}"
    );
    let (status, classes) = api(&state, "GET", Some(&secret), "/api/v1/reports/classes", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        classes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "relationship" && r["class"] == "loyal" && r["customers"] == 1),
        "{classes}"
    );
    let (status, on) = api(
        &state,
        "POST",
        Some(&secret),
        "/api/v1/programs/second-purchase/enable",
        "",
    )
    .await;
    assert_eq!(
        (status, on["enabled"].clone()),
        (StatusCode::OK, serde_json::Value::Bool(true)),
        "{on}"
    );
    let (status, off) = api(
        &state,
        "POST",
        Some(&secret),
        "/api/v1/programs/second-purchase/disable",
        "",
    )
    .await;
    assert_eq!(
        (status, off["enabled"].clone()),
        (StatusCode::OK, serde_json::Value::Bool(false))
    );
    let (status, unknown) = api(&state, "POST", Some(&secret), "/api/v1/programs/nope/enable", "").await;
    assert_eq!(
        (status, unknown["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("program_unknown"))
    );
    let log = access::audit_log(state.store.as_ref(), None, 100).await.unwrap();
    assert!(
        log.iter()
            .any(|a| a.actor == "test-admin" && a.action.starts_with("program")),
        "{log:?}"
    );
    let (status, tasks) = api(&state, "GET", Some(&secret), "/api/v1/tasks", "").await;
    assert_eq!((status, tasks.clone()), (StatusCode::OK, serde_json::json!([])));
    let (status, gone) = api(
        &state,
        "POST",
        Some(&secret),
        "/api/v1/tasks/done",
        r#"{"key": "7/x/y/z"}"#,
    )
    .await;
    assert_eq!(
        (status, gone["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("task_unknown"))
    );
    let (status, bad) = api(&state, "POST", Some(&secret), "/api/v1/tasks/done", r#"{"key": "#).await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_body"))
    );
}

/// The customers list shows each customer's value, classes and last order, and sorts a
/// filter over profiles by value (the highest first), profit or recency; a filter that
/// is not over profiles alone stays in id order and says so.
#[tokio::test]
async fn the_customers_list_shows_value_and_sorts_by_it() {
    let (_dir, _store, state) = empty_shop().await;
    let src = guanxi_domain::Source::parse("t").unwrap();
    let mut tx = state.store.begin().await.unwrap();
    let people: Vec<guanxi_domain::Customer> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            let mut c = guanxi_domain::Customer::bare(guanxi_domain::CustomerKey {
                source: src.clone(),
                external_id: (*id).into(),
            });
            c.name = Some(format!("Person {id}"));
            c
        })
        .collect();
    tx.upsert_customers(&people).await.unwrap();
    tx.commit().await.unwrap();
    let mut rows = Vec::new();
    for (id, paid, days) in [("a", 1_000, 5), ("b", 900_000, 300), ("c", 50_000, 1)] {
        let key = guanxi_domain::CustomerKey {
            source: src.clone(),
            external_id: id.into(),
        };
        let customer_id = state.store.customer(&key).await.unwrap().unwrap().0;
        rows.push(guanxi_store::ProfileRow {
            customer_id,
            classes: [
                Some("repeat".into()),
                None,
                None,
                None,
                None,
                Some("vip".into()),
                None,
                None,
            ],
            paid_orders: 2,
            paid_amount_cents: paid,
            profit_cents: paid / 10,
            recency_days: Some(days),
            ..Default::default()
        });
    }
    let as_of = chrono::DateTime::from_timestamp(1_782_777_600, 0).unwrap();
    let build = guanxi_store::BuildRecord {
        id: 0,
        as_of,
        built_at: as_of,
        customers: 3,
        transitions: 0,
        summary: "{}".into(),
    };
    state.store.save_build(&build, &mut rows.into_iter()).await.unwrap();
    let (cookie, _) = signed_in(&state, Role::Marketer).await;
    let order = |page: &str| {
        let mut found: Vec<(usize, &str)> = ["Person a", "Person b", "Person c"]
            .iter()
            .filter_map(|n| page.find(n).map(|i| (i, *n)))
            .collect();
        found.sort();
        found.into_iter().map(|(_, n)| n.to_string()).collect::<Vec<_>>()
    };
    let (status, page) = get_as(state.clone(), "/customers?lang=en", "en", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order(&page), ["Person a", "Person b", "Person c"], "by id");
    assert!(page.contains("¥9,000.00") && page.contains("300 days ago"), "{page}");
    let (_, page) = get_as(state.clone(), "/customers?lang=en&sort=value", "en", Some(&cookie)).await;
    assert_eq!(
        order(&page),
        ["Person b", "Person c", "Person a"],
        "the highest value first"
    );
    assert!(page.contains(r#"aria-sort="descending""#));
    let (_, page) = get_as(
        state.clone(),
        "/customers?lang=en&sort=recency&tier=vip",
        "en",
        Some(&cookie),
    )
    .await;
    assert_eq!(
        order(&page),
        ["Person c", "Person a", "Person b"],
        "the latest buyer first"
    );
    // A filter on a customer field is not over profiles alone: id order, and a note.
    let (_, page) = get_as(
        state.clone(),
        "/customers?lang=en&sort=value&q=province%20%3D%20%27x%27",
        "en",
        Some(&cookie),
    )
    .await;
    assert!(page.contains("Sorting applies to filters over profiles"), "{page}");
}

/// A marketer previews what a step would send a customer, from the programs page and the
/// API: their name in the rendered template, nothing queued; a step that sends nothing,
/// an unknown step or a bad customer number are 400s that say which.
#[tokio::test]
async fn a_steps_message_is_previewed_for_a_customer() {
    let (_dir, _store, state) = empty_shop().await;
    let (ann, _) = two_profiled(&state).await;
    let (cookie, _) = signed_in(&state, Role::Marketer).await;
    let (status, page) = get_as(state.clone(), "/programs?lang=en", "en", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"action="/programs/preview""#), "{page}");
    let (status, page) = get_as(
        state.clone(),
        &format!("/programs/preview?program=payment-reminder&step=first&customer={ann}&lang=en"),
        "en",
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Name ann您好"),
        "the zh-CN template with the customer's name: {page}"
    );
    assert!(page.contains("nothing was sent"), "{page}");
    for (query, why) in [
        ("program=order-care&step=nope&customer=1", "has no step"),
        ("program=payment-reminder&step=first&customer=abc", "customer"),
        ("program=nope&step=first&customer=1", "no program named"),
    ] {
        let (status, page) = get_as(
            state.clone(),
            &format!("/programs/preview?{query}&lang=en"),
            "en",
            Some(&cookie),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(page.contains(why), "{query}: {page}");
    }
    let (status, page) = get_as(
        state.clone(),
        &format!("/api/v1/programs/payment-reminder/preview?step=second&customer={ann}"),
        "en",
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let v: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(
        (v["channel"].as_str(), v["template"].as_str()),
        (Some("sms"), Some("payment-reminder-2"))
    );
    let analyst = signed_in(&state, Role::Analyst).await.0;
    let (status, _) = get_as(
        state.clone(),
        &format!("/programs/preview?program=payment-reminder&step=first&customer={ann}"),
        "en",
        Some(&analyst),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        state.store.counts().await.unwrap().messages,
        0,
        "a preview sends nothing"
    );
}

/// Merging through the API (admins): one person from then on, audited under the token's
/// user; a record merged again or into itself is a 400 that says why; duplicates listed
/// with the shared value masked.
#[tokio::test]
async fn admins_merge_records_through_the_api() {
    let (_dir, _store, state) = empty_shop().await;
    two_profiled(&state).await;
    let secret = token(&state, Role::Admin, &[Capability::Administer, Capability::ReadCustomer]).await;
    let id = |k: &str| {
        let key = guanxi_domain::CustomerKey {
            source: guanxi_domain::Source::parse("t").unwrap(),
            external_id: k.into(),
        };
        let store = state.store.clone();
        async move { store.customer(&key).await.unwrap().unwrap().0 }
    };
    let (ann, bob) = (id("ann").await, id("bob").await);
    let (status, pairs) = api(&state, "GET", Some(&secret), "/api/v1/customers/duplicates", "").await;
    assert_eq!((status, pairs), (StatusCode::OK, serde_json::json!([])));
    let body = format!(r#"{{"kept": {ann}, "merged": {bob}}}"#);
    let (status, done) = api(&state, "POST", Some(&secret), "/api/v1/customers/merge", &body).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let (status, again) = api(&state, "POST", Some(&secret), "/api/v1/customers/merge", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    let (status, own) = api(
        &state,
        "POST",
        Some(&secret),
        "/api/v1/customers/merge",
        &format!(r#"{{"kept": {ann}, "merged": {ann}}}"#),
    )
    .await;
    assert_eq!(
        (status, own["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("merge_self"))
    );
    let (status, bad) = api(
        &state,
        "POST",
        Some(&secret),
        "/api/v1/customers/merge",
        r#"{"kept": "x"}"#,
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_body"))
    );
    assert_eq!(
        state
            .store
            .customer_id(&guanxi_domain::CustomerKey {
                source: guanxi_domain::Source::parse("t").unwrap(),
                external_id: "bob".into(),
            })
            .await
            .unwrap(),
        Some(ann),
        "bob is ann now"
    );
    let trail = state.store.audit_trail(&format!("customer:{ann}")).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|a| a.action == "customer.merge" && a.actor == "test-admin"),
        "{trail:?}"
    );
}

/// An agent records a complaint taken by phone: listed with the rest, audited under their
/// name; a bad kind, an unknown customer or an unknown field is a 400 naming it and
/// records nothing; staff without the service capability get 403.
#[tokio::test]
async fn agents_record_service_contacts_through_the_api() {
    let (_dir, _store, state) = empty_shop().await;
    let (ann, _) = two_profiled(&state).await;
    let agent = token(&state, Role::Agent, &[Capability::Tasks, Capability::ReadCustomer]).await;
    let body = format!(
        r#"{{"customer": {ann}, "kind": "complaint", "satisfaction": 2, "cost_cents": 500, "note": "parcel late"}}"#
    );
    let (status, made) = api(&state, "POST", Some(&agent), "/api/v1/service-records", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let external_id = made["external_id"].as_str().unwrap().to_string();
    assert!(external_id.starts_with("staff-"), "{external_id}");
    let (status, page) = api(&state, "GET", Some(&agent), "/api/v1/service-records", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{page}");
    assert_eq!(
        (
            &records[0]["customer_id"],
            &records[0]["kind"],
            &records[0]["status"],
            &records[0]["satisfaction"]
        ),
        (
            &serde_json::json!(ann),
            &serde_json::json!("complaint"),
            &serde_json::json!("open"),
            &serde_json::json!(2)
        )
    );
    let trail = state.store.audit_trail(&format!("customer:{ann}")).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == "service.recorded" && e.actor == "test-agent" && e.detail.contains(&external_id)),
        "{trail:?}"
    );
    for (body, field) in [
        (format!(r#"{{"customer": {ann}, "kind": "moan"}}"#), "kind"),
        (
            format!(r#"{{"customer": {ann}, "kind": "praise", "satisfaction": 9}}"#),
            "satisfaction",
        ),
        (
            format!(r#"{{"customer": {ann}, "kind": "praise", "colour": "red"}}"#),
            "colour",
        ),
        (r#"{"customer": 999999, "kind": "praise"}"#.to_string(), "customer"),
        (
            format!(r#"{{"customer": {ann}, "kind": "praise", "cost_cents": -1}}"#),
            "cost_cents",
        ),
    ] {
        let (status, why) = api(&state, "POST", Some(&agent), "/api/v1/service-records", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {why}");
        assert!(why["message"].as_str().unwrap().contains(field), "{body}: {why}");
    }
    let (_, page) = api(&state, "GET", Some(&agent), "/api/v1/service-records", "").await;
    assert_eq!(page["records"].as_array().unwrap().len(), 1, "nothing more recorded");
    let analyst = token(&state, Role::Analyst, &[Capability::ReadReports]).await;
    let (status, _) = api(
        &state,
        "POST",
        Some(&analyst),
        "/api/v1/service-records",
        &format!(r#"{{"customer": {ann}, "kind": "praise"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, reviews) = api(&state, "GET", Some(&agent), "/api/v1/reviews", "").await;
    assert_eq!(
        (status, reviews["reviews"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    // A program's figures: an unknown program or window is a 400.
    let marketer = token(&state, Role::Marketer, &[Capability::Programs]).await;
    let (status, stats) = api(
        &state,
        "GET",
        Some(&marketer),
        "/api/v1/programs/second-purchase/stats?window_days=30",
        "",
    )
    .await;
    assert_eq!((status, stats.is_array()), (StatusCode::OK, true), "{stats}");
    let (status, why) = api(&state, "GET", Some(&marketer), "/api/v1/programs/no-such/stats", "").await;
    assert_eq!(
        (status, why["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("program_unknown"))
    );
    let (status, why) = api(
        &state,
        "GET",
        Some(&marketer),
        "/api/v1/programs/second-purchase/stats?window_days=0",
        "",
    )
    .await;
    assert_eq!(
        (status, why["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("window_invalid"))
    );
}

/// A marketer creates and launches a campaign through the API; an analyst reads it and
/// its report but may not create or launch one; a bad plan is a 400 naming the field.
#[tokio::test]
async fn campaigns_through_the_api_by_role() {
    let (_dir, _store, state) = empty_shop().await;
    let (ann, _) = two_profiled(&state).await;
    let marketer = token(
        &state,
        Role::Marketer,
        &[Capability::Campaigns, Capability::ReadReports],
    )
    .await;
    let analyst = token(&state, Role::Analyst, &[Capability::ReadReports, Capability::Segments]).await;
    let plan = "name = \"spring\"\nstarts = \"2026-05-01\"\nends = \"2026-05-03\"\n\n[[audiences]]\nname = \"loyal\"\nsegment = \"relationship = 'loyal'\"\nholdout = 0\n";
    let body = serde_json::json!({ "plan": plan }).to_string();
    let (status, _) = api(&state, "POST", Some(&analyst), "/api/v1/campaigns", &body).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "analysts read campaigns, they do not run them"
    );
    let bad = serde_json::json!({ "plan": plan.replace("holdout = 0", "holdout = 2") }).to_string();
    let (status, why) = api(&state, "POST", Some(&marketer), "/api/v1/campaigns", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");
    assert!(
        why["message"].as_str().unwrap().contains("audiences[0].holdout"),
        "{why}"
    );
    // A template or a coupon the shop does not have is refused at creation, named.
    for (variant, wants) in [
        (
            "templates = [\"nope\"]",
            "audiences[0].variants[0].templates: wave 1 names the template \"nope\"",
        ),
        (
            "coupon = \"NOPE\"",
            "audiences[0].variants[0].coupon: no coupon \"NOPE\" is defined",
        ),
    ] {
        let text = format!("{plan}\n[[audiences.variants]]\nname = \"main\"\n{variant}\n");
        let bad = serde_json::json!({ "plan": text }).to_string();
        let (status, why) = api(&state, "POST", Some(&marketer), "/api/v1/campaigns", &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");
        assert!(why["message"].as_str().unwrap().contains(wants), "{why}");
    }
    let (status, made) = api(&state, "POST", Some(&marketer), "/api/v1/campaigns", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, _) = api(&state, "POST", Some(&analyst), "/api/v1/campaigns/spring/launch", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, preview) = api(&state, "GET", Some(&analyst), "/api/v1/campaigns/spring/preview", "").await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["audiences"][0]["members"], 1, "{preview}");
    let (status, launched) = api(&state, "POST", Some(&marketer), "/api/v1/campaigns/spring/launch", "").await;
    assert_eq!(status, StatusCode::OK, "{launched}");
    assert_eq!(launched["audiences"][0]["members"], 1, "ann, the loyal one: {launched}");
    let (status, again) = api(&state, "POST", Some(&marketer), "/api/v1/campaigns/spring/launch", "").await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("campaign_launched"))
    );
    let (status, listed) = api(&state, "GET", Some(&analyst), "/api/v1/campaigns", "").await;
    assert_eq!((status, listed[0]["members"].as_u64()), (StatusCode::OK, Some(1)));
    let (status, members) = api(&state, "GET", Some(&analyst), "/api/v1/campaigns/spring/members", "").await;
    assert_eq!(
        (status, members[0]["customer_id"].as_i64()),
        (StatusCode::OK, Some(ann))
    );
    let (status, report) = api(&state, "GET", Some(&analyst), "/api/v1/campaigns/spring/report", "").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    // No holdout: the report makes no claim.
    assert_eq!(report["rows"][0]["verdict"], "no_comparison", "{report}");
    let (status, _) = api(&state, "GET", Some(&analyst), "/api/v1/campaigns/nope/report", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The campaign pages: a marketer creates one from the form (a saved segment as its
/// audience), sees its sizes before launch and launches it; a field that does not read
/// is named on the form and nothing is created; an analyst reads the pages but may not
/// create or launch; an unknown campaign is a 404 page.
#[tokio::test]
async fn campaigns_from_the_form_by_role() {
    let (_dir, _store, state) = empty_shop().await;
    two_profiled(&state).await;
    let by = guanxi_app::access::Actor::cli();
    guanxi_app::segments::save(state.store.as_ref(), "loyal", "relationship = 'loyal'", "", &by)
        .await
        .unwrap()
        .unwrap();
    let (marketer, csrf) = signed_in(&state, Role::Marketer).await;
    let (analyst, analyst_csrf) = signed_in(&state, Role::Analyst).await;
    let (status, page) = get_as(state.clone(), "/campaigns?segment=loyal", "en", Some(&marketer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<option value="loyal" selected>"#), "{page}");
    let form = |csrf: &str, ends: &str| {
        format!(
            "csrf={csrf}&lang=en&name=spring&title=Spring&starts=2026-05-01&ends={ends}&waves=-7%2C+-1&segment=loyal&holdout_percent=20&channel=sms&plan="
        )
    };
    let (status, _, _) = post_as(
        state.clone(),
        "/campaigns",
        &form(&analyst_csrf, "2026-05-03"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "analysts do not create campaigns");
    let (status, _, page) = post_as(
        state.clone(),
        "/campaigns",
        &form(&csrf, "May 3"),
        Some(&marketer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("ends: expected a day as YYYY-MM-DD"), "{page}");
    assert!(state.store.campaigns().await.unwrap().is_empty(), "nothing created");
    let (status, to, _) = post_as(
        state.clone(),
        "/campaigns",
        &form(&csrf, "2026-05-03"),
        Some(&marketer),
        None,
    )
    .await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/campaigns/spring?lang=en"))
    );
    let stored = state.store.campaign("spring").await.unwrap().unwrap();
    let plan = guanxi_domain::campaign::Plan::parse(&stored.plan).unwrap();
    assert_eq!((plan.waves.clone(), plan.audiences[0].holdout), (vec![-7, -1], 0.2));
    let (status, page) = get_as(state.clone(), "/campaigns/spring", "en", Some(&analyst)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"id="sizes""#) && page.contains("loyal: no one is held out, so no lift can be measured"),
        "one member, none drawn into the holdout: {page}"
    );
    assert!(!page.contains(r#"id="launch""#), "no launch button for an analyst");
    let launch = format!("csrf={analyst_csrf}&lang=en");
    let (status, _, _) = post_as(state.clone(), "/campaigns/spring/launch", &launch, Some(&analyst), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let launch = format!("csrf={csrf}&lang=zh-CN");
    let (status, to, _) = post_as(
        state.clone(),
        "/campaigns/spring/launch",
        &launch,
        Some(&marketer),
        None,
    )
    .await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/campaigns/spring?lang=zh-CN"))
    );
    let (status, page) = get_as(state.clone(), "/campaigns/spring?lang=zh-CN", "zh-CN", Some(&analyst)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"id="verdicts""#) && page.contains("整个活动对loyal"),
        "{page}"
    );
    let (status, page) = get_as(state.clone(), "/campaigns/nope", "en", Some(&analyst)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("no campaign named"), "{page}");
}

/// A member on their page and through the API: an agent adjusts points with a reason
/// and issues a coupon from the forms (each once, however often the form is posted); a
/// marketer may not; a number that is not one is named; the API reads the balance and
/// coupons, adjusts, redeems within the balance only, finds a coupon by its code, and
/// reports the liability.
#[tokio::test]
async fn members_points_and_coupons_from_the_page_and_the_api() {
    let (_dir, _store, state) = empty_shop().await;
    let (ann, _) = two_profiled(&state).await;
    let (agent, csrf) = signed_in(&state, Role::Agent).await;
    let (marketer, marketer_csrf) = signed_in(&state, Role::Marketer).await;
    let points = format!("/customers/{ann}/points");
    let adjust = |csrf: &str, n: &str| format!("csrf={csrf}&lang=en&points={n}&reason=parcel+lost&reference=web-1");
    let (status, _, _) = post_as(
        state.clone(),
        &points,
        &adjust(&marketer_csrf, "200"),
        Some(&marketer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "marketers do not change points");
    let (status, _, page) = post_as(
        state.clone(),
        &points,
        &adjust(&csrf, "two+hundred"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("points: expected a whole number of points, found"),
        "{page}"
    );
    for _ in 0..2 {
        let (status, to, _) = post_as(state.clone(), &points, &adjust(&csrf, "200"), Some(&agent), None).await;
        assert_eq!(
            (status, to),
            (
                StatusCode::SEE_OTHER,
                Some(format!("/customers/{ann}?lang=en#membership"))
            )
        );
    }
    let coupons = format!("/customers/{ann}/coupons");
    for _ in 0..2 {
        let form = format!("csrf={csrf}&lang=en&coupon=BIRTHDAY&key=web-2");
        let (status, _, _) = post_as(state.clone(), &coupons, &form, Some(&agent), None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, _, page) = post_as(
        state.clone(),
        &coupons,
        &format!("csrf={csrf}&lang=en&coupon=NOPE&key=web-3"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("no coupon &quot;NOPE&quot; is defined"), "{page}");
    let (status, page) = get_as(state.clone(), &format!("/customers/{ann}"), "en", Some(&agent)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"id="membership""#) && page.contains("parcel lost"),
        "{page}"
    );
    assert_eq!(page.matches("+200 parcel lost").count(), 1, "posted once: {page}");
    assert_eq!(page.matches("<code>GX-").count(), 1, "issued once: {page}");

    let reader = token(&state, Role::Agent, &[Capability::ReadCustomer, Capability::Members]).await;
    let (status, member) = api(
        &state,
        "GET",
        Some(&reader),
        &format!("/api/v1/customers/{ann}/points"),
        "",
    )
    .await;
    assert_eq!(
        (status, member["balance"].as_i64()),
        (StatusCode::OK, Some(200)),
        "{member}"
    );
    let redeem = |n: u64, reference: &str| serde_json::json!({ "points": n, "reference": reference }).to_string();
    let redemptions = format!("/api/v1/customers/{ann}/points/redemptions");
    let (status, why) = api(&state, "POST", Some(&reader), &redemptions, &redeem(500, "ORDER-1")).await;
    assert_eq!(
        (status, why["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("points_refused")),
        "{why}"
    );
    let (status, spent) = api(&state, "POST", Some(&reader), &redemptions, &redeem(150, "ORDER-1")).await;
    assert_eq!(
        (status, spent["balance"].as_i64()),
        (StatusCode::OK, Some(50)),
        "{spent}"
    );
    let body = serde_json::json!({ "points": -20, "reason": "given twice", "reference": "fix-1" }).to_string();
    let (status, adjusted) = api(
        &state,
        "POST",
        Some(&reader),
        &format!("/api/v1/customers/{ann}/points/adjustments"),
        &body,
    )
    .await;
    assert_eq!(
        (status, adjusted["balance"].as_i64()),
        (StatusCode::OK, Some(30)),
        "{adjusted}"
    );
    let (status, issued) = api(
        &state,
        "GET",
        Some(&reader),
        &format!("/api/v1/customers/{ann}/coupons"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let code = issued[0]["code"].as_str().unwrap().to_string();
    let (status, found) = api(
        &state,
        "GET",
        Some(&reader),
        &format!("/api/v1/coupons?code={code}"),
        "",
    )
    .await;
    assert_eq!(
        (status, found[0]["customer_id"].as_i64()),
        (StatusCode::OK, Some(ann)),
        "{found}"
    );
    let body = serde_json::json!({ "coupon": "FREE-SHIPPING", "key": "k" }).to_string();
    let issue = format!("/api/v1/customers/{ann}/coupons");
    let (status, first) = api(&state, "POST", Some(&reader), &issue, &body).await;
    let (_, again) = api(&state, "POST", Some(&reader), &issue, &body).await;
    assert_eq!(
        (status, &first["code"]),
        (StatusCode::OK, &again["code"]),
        "{first} {again}"
    );
    let (status, _) = api(&state, "GET", Some(&reader), "/api/v1/customers/999999/points", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let analyst = token(&state, Role::Analyst, &[Capability::ReadReports]).await;
    let (status, liability) = api(&state, "GET", Some(&analyst), "/api/v1/points/liability", "").await;
    assert_eq!(
        (status, liability["outstanding"].as_u64()),
        (StatusCode::OK, Some(30)),
        "{liability}"
    );
}
