//! guanxi's web application (issue 5): server-rendered pages over the store — the
//! dashboard, the customers list and customer 360 so far — in Chinese and English.
//!
//! Pages are HTML built with `maud` (typed, escaped), labels come from the Fluent
//! catalogues (`i18n`), charts are inline SVG (`chart`): the server needs no network and
//! no script. The crate reads the store only; it builds without DataFusion.

pub mod api;
mod audit;
pub mod auth;
pub mod campaigns;
mod chart;
pub mod counts;
mod customer;
mod customers;
mod dashboard;
pub mod events;
pub mod format;
mod i18n;
mod layout;
mod membership;
mod programs;
mod reports;
mod responses;
mod tasks;
pub mod warming;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use guanxi_domain::ShopTz;
use guanxi_store::Store;

pub use i18n::Lang;
pub use responses::Responses;

/// What needs the lake (DataFusion, in the binary): this crate builds without it.
#[async_trait::async_trait]
pub trait Analytics: Send + Sync {
    /// The reports over paid orders up to the last order, split by `granularity`.
    async fn order_reports(
        &self,
        granularity: guanxi_domain::report::Granularity,
    ) -> Result<guanxi_domain::report::Reports, String>;

    /// The shop's order figures per period over every order (guests' too, any status).
    async fn order_figures(
        &self,
        granularity: guanxi_domain::report::Granularity,
    ) -> Result<Vec<guanxi_domain::report::PeriodOrders>, String>;
}

/// What every handler reads.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Where each build's profile details (with their explanations) are.
    pub lake: guanxi_lake::Lake,
    pub analytics: Arc<dyn Analytics>,
    pub tz: ShopTz,
    /// Tracked links, unsubscribe links and SMS replies (engagement).
    pub responses: Option<Responses>,
    /// The current build's profile columns, for live segment counts.
    pub counts: Arc<guanxi_store::HeldColumns>,
    /// Requests per client address and per API token.
    pub limits: Arc<auth::Limits>,
    /// Live events' secrets, and the scheduler to wake.
    pub live: events::Live,
    /// The shop's templates, name and language, for message previews.
    pub writing: guanxi_app::programs::Writing,
    /// Points rules, tiers and coupons, for members' pages and the API.
    pub membership: Arc<guanxi_app::points::Membership>,
    /// The start-up reads still running (`/healthz`).
    pub warming: Arc<warming::Warming>,
}

impl AppState {
    /// The open shop as the use cases take it.
    /// The templates and coupons a campaign's plan may name.
    pub fn known(&self) -> guanxi_app::campaigns::Known<'_> {
        guanxi_app::campaigns::Known {
            templates: &self.writing.templates,
            coupons: &self.membership.coupons,
        }
    }

    pub fn shop(&self) -> guanxi_app::Shop<'_> {
        guanxi_app::Shop {
            store: self.store.as_ref(),
            lake: &self.lake,
            tz: self.tz,
        }
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/healthz", get(warming::healthz))
        .route("/customers", get(customers::show))
        .route("/customers.csv", get(customers::export))
        .route("/customers/{id}", get(customer::show))
        .route("/customers/{id}/reveal", axum::routing::post(customer::reveal))
        .route("/customers/{id}/points", axum::routing::post(membership::adjust))
        .route("/customers/{id}/coupons", axum::routing::post(membership::issue))
        .route("/api/segment/count", get(customers::count))
        .route("/segments", axum::routing::post(customers::save))
        .route("/reports", get(reports::show))
        .route("/programs", get(programs::show))
        .route("/programs/preview", get(programs::preview))
        .route("/programs/enable", axum::routing::post(programs::enable))
        .route("/programs/disable", axum::routing::post(programs::disable))
        .route("/campaigns", get(campaigns::list).post(campaigns::create))
        .route("/campaigns/{name}", get(campaigns::show))
        .route("/campaigns/{name}/launch", axum::routing::post(campaigns::launch))
        .route("/tasks", get(tasks::show))
        .route("/tasks/done", axum::routing::post(tasks::close))
        .route("/reports.csv", get(reports::csv))
        .route("/r/{id}", get(responses::click))
        .route("/u/{id}", get(responses::ask).post(responses::unsubscribe))
        .route("/hooks/sms/reply", axum::routing::post(responses::sms_reply))
        .route("/hooks/receipt", axum::routing::post(responses::receipt))
        .route("/audit", get(audit::show))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/segments/count", get(api::segment_count))
        .route("/api/v1/programs", get(api::programs))
        .route("/api/v1/segments/members", get(api::segment_members))
        .route("/api/v1/segments/export", get(api::segment_export))
        .route(
            "/api/v1/programs/{name}/enable",
            axum::routing::post(api::program_enable),
        )
        .route(
            "/api/v1/programs/{name}/disable",
            axum::routing::post(api::program_disable),
        )
        .route("/api/v1/programs/{name}/preview", get(api::program_preview))
        .route("/api/v1/programs/{name}/stats", get(api::program_stats))
        .route(
            "/api/v1/service-records",
            get(api::service_records).post(api::service_record),
        )
        .route("/api/v1/reviews", get(api::reviews))
        .route("/api/v1/campaigns", get(api::campaigns).post(api::campaign_create))
        .route(
            "/api/v1/campaigns/{name}/launch",
            axum::routing::post(api::campaign_launch),
        )
        .route("/api/v1/campaigns/{name}/members", get(api::campaign_members))
        .route("/api/v1/campaigns/{name}/report", get(api::campaign_report))
        .route("/api/v1/campaigns/{name}/preview", get(api::campaign_preview))
        .route("/api/v1/customers", get(api::customer_search))
        .route("/api/v1/customers/duplicates", get(api::customer_duplicates))
        .route("/api/v1/customers/merge", axum::routing::post(api::customer_merge))
        .route("/api/v1/orders", get(api::orders))
        .route("/api/v1/tasks", get(api::tasks))
        .route("/api/v1/tasks/done", axum::routing::post(api::task_done))
        .route("/api/v1/reports/classes", get(api::report_classes))
        .route("/api/v1/reports/{name}", get(api::report))
        .route("/api/v1/customers/{id}", get(api::customer))
        .route("/api/v1/customers/{id}/history", get(api::customer_history))
        .route("/api/v1/customers/{id}/points", get(api::member_points))
        .route(
            "/api/v1/customers/{id}/points/adjustments",
            axum::routing::post(api::member_adjust),
        )
        .route(
            "/api/v1/customers/{id}/points/redemptions",
            axum::routing::post(api::member_redeem),
        )
        .route(
            "/api/v1/customers/{id}/coupons",
            get(api::member_coupons).post(api::member_coupon_issue),
        )
        .route("/api/v1/coupons", get(api::coupons))
        .route("/api/v1/points/liability", get(api::points_liability))
        .route("/api/v1/profiles", get(api::profiles))
        .route("/api/v1/customers/{id}/privacy-export", get(api::privacy_export))
        .route("/api/v1/customers/{id}/erase", axum::routing::post(api::privacy_erase))
        .route(
            "/api/v1/webhooks/shopify",
            axum::routing::post(events::shopify).layer(axum::extract::DefaultBodyLimit::max(events::MAX_EVENT_BODY)),
        )
        .route(
            "/api/v1/events",
            axum::routing::post(events::event).layer(axum::extract::DefaultBodyLimit::max(events::MAX_EVENT_BODY)),
        )
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", axum::routing::post(auth::logout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(bounded_uri))
        .layer(axum::middleware::from_fn_with_state(
            state.limits.timeout(),
            bounded_time,
        ))
        .with_state(state)
}

/// Answers 503 (`{"code": "timeout"}`) to a request whose answer has not begun within the
/// server's limit, so that no request holds a connection and its resources for ever.
async fn bounded_time(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("a request took longer than {limit:?}");
            api::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the answer took too long: try again, or narrow the request".into(),
            )
        }
    }
}

/// The largest request body read (forms, gateway callbacks): far above any real one.
pub const MAX_BODY: usize = 64 * 1024;
/// The longest request target (path and query) answered; a segment filter is bounded by
/// its parser too, but nothing of ours needs more than this.
pub const MAX_URI: usize = 8 * 1024;

/// Refuses an over-long request target with 414 before any handler reads it.
async fn bounded_uri(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI {
        return (
            StatusCode::URI_TOO_LONG,
            format!("the request target is {len} bytes; at most {MAX_URI} are read"),
        )
            .into_response();
    }
    next.run(req).await
}

/// Serves the application on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, state: AppState) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving the web UI");
    // The client's address reaches the audit log (sign-ins, failures).
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// A failure while rendering a page: logged, and shown as a plain 500.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("store: {0}")]
    Store(#[from] guanxi_store::StoreError),
    #[error("{0}")]
    App(#[from] guanxi_app::AppError),
    #[error("lake: {0}")]
    Lake(String),
    #[error("analytics: {0}")]
    Analytics(String),
    #[error("engagement: {0}")]
    Engage(String),
}

impl IntoResponse for WebError {
    /// The cause goes to the log, not to the client: a store's message can name tables,
    /// paths or values that are nobody else's business.
    fn into_response(self) -> Response {
        // A use case's error that is the caller's (bad input, missing, denied) is answered
        // as the one table says, with its code and message; anything else is ours.
        if let WebError::App(e) = &self
            && e.kind() != guanxi_app::Kind::Internal
        {
            let status = StatusCode::from_u16(e.kind().http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            return api::error(status, e.code(), e.to_string());
        }
        tracing::error!(error = %self, "page failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error: the server's log says what went wrong",
        )
            .into_response()
    }
}

/// The page's language from `?lang=` and the Accept-Language header.
fn lang_of(query: Option<&str>, headers: &HeaderMap) -> Lang {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Lang::negotiate(query, accept)
}

fn html(markup: maud::Markup) -> Html<String> {
    Html(markup.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    /// On a paused clock: a handler that would answer after 10 s is cut at the 1 s limit
    /// with 503 and the error's code; one within it is answered.
    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_time_limit_gets_503() {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                    "late"
                }),
            )
            .route("/quick", get(|| async { "on time" }))
            .layer(axum::middleware::from_fn_with_state(
                std::time::Duration::from_secs(1),
                bounded_time,
            ));
        let request = |uri: &str| {
            axum::extract::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let slow = app.clone().oneshot(request("/slow")).await.unwrap();
        assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(slow.into_body(), 1 << 16).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains(r#""code":"timeout""#));
        let quick = app.oneshot(request("/quick")).await.unwrap();
        assert_eq!(quick.status(), StatusCode::OK);
    }
}
