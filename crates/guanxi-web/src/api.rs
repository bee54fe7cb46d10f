//! The REST API under `/api/v1`, over the same use cases as the pages, for programs that
//! call with an API token (`Authorization: Bearer gx_…`) or a signed-in browser. Its
//! OpenAPI 3 document (`/api/v1/openapi.json`) is generated from these handlers and
//! types (utoipa). Errors are `{code, message, details}` with the status of the one
//! table of answers. So far: who is calling, live segment counts, the programs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{AppState, WebError};

/// An error as every endpoint answers it ([`error`]).
#[derive(Serialize, ToSchema)]
pub struct ApiError {
    /// Stable: programs may match on it.
    code: String,
    message: String,
    details: serde_json::Value,
}

/// An error answer: `status` with `{code, message, details}` — every JSON error of the
/// server (the API's, the sign-in guard's, the limits') is written here.
pub(crate) fn error(status: StatusCode, code: &str, message: String) -> Response {
    let body = ApiError {
        code: code.into(),
        message,
        details: serde_json::json!({}),
    };
    (status, Json(body)).into_response()
}

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct Me {
    name: String,
    /// admin, marketer, agent or analyst.
    role: String,
    /// Calling with a token: what it may do (else the role's capabilities).
    scopes: Vec<String>,
    /// Calling with a token: when it expires.
    expires_at: Option<DateTime<Utc>>,
}

/// Who is calling, and what they may do.
#[utoipa::path(get, path = "/api/v1/me", tag = "access",
    responses((status = 200, body = Me), (status = 401, body = ApiError)))]
pub async fn me() -> Response {
    let Some(v) = crate::auth::viewer() else {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first".into());
    };
    let scopes: Vec<String> = match &v.token {
        Some(t) => t.scopes.iter().map(|c| c.as_str().to_string()).collect(),
        None => guanxi_domain::access::Capability::ALL
            .iter()
            .filter(|c| v.user.role.may(**c))
            .map(|c| c.as_str().to_string())
            .collect(),
    };
    Json(Me {
        name: v.user.name.clone(),
        role: v.user.role.as_str().into(),
        scopes,
        expires_at: v.token.as_ref().map(|t| t.expires_at),
    })
    .into_response()
}

#[derive(Deserialize, IntoParams)]
pub struct CountQuery {
    /// A segment expression, or a saved segment's name (`tier in ('vip', 'major')`).
    q: String,
}

/// A live count.
#[derive(Serialize, ToSchema)]
pub struct Count {
    /// The expression as written (canonical form), saved segments not inlined.
    expression: String,
    customers: u64,
    /// The profile build it counted in; behaviour windows end here.
    as_of: DateTime<Utc>,
}

/// How many customers a segment holds in the current profile build.
#[utoipa::path(get, path = "/api/v1/segments/count", tag = "segments", params(CountQuery),
    responses((status = 200, body = Count), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError),
              (status = 409, description = "no profile build yet", body = ApiError)))]
pub async fn segment_count(State(s): State<AppState>, ApiQuery(q): ApiQuery<CountQuery>) -> Result<Response, WebError> {
    let Some(build) = s.store.latest_build().await? else {
        return Ok(error(
            StatusCode::CONFLICT,
            "no_build",
            "no profile build yet: guanxi profile build".into(),
        ));
    };
    let resolved = match guanxi_store::segment::resolve(s.store.as_ref(), &q.q, "q").await {
        Ok(r) => r,
        Err(guanxi_store::segment::ResolveError::Store(e)) => return Err(e.into()),
        Err(e) => return Ok(error(StatusCode::BAD_REQUEST, e.code(), e.to_string())),
    };
    let customers = crate::counts::count(&s, &resolved.expr, &build).await?;
    Ok(Json(Count {
        expression: resolved.text,
        customers,
        as_of: build.as_of,
    })
    .into_response())
}

/// A program and whether it runs.
#[derive(Serialize, ToSchema)]
pub struct ProgramItem {
    name: String,
    title: String,
    enabled: bool,
    /// When its runs start from, once enabled.
    since: Option<DateTime<Utc>>,
}

/// Every program guanxi knows (the built-ins and the shop's own), on or off.
#[utoipa::path(get, path = "/api/v1/programs", tag = "programs",
    responses((status = 200, body = [ProgramItem]), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn programs(State(s): State<AppState>) -> Result<Response, WebError> {
    let known = guanxi_engage::schedule::catalogue(s.store.as_ref())
        .await
        .map_err(|e| WebError::Engage(e.to_string()))?;
    let items: Vec<ProgramItem> = known
        .into_iter()
        .map(|k| ProgramItem {
            name: k.program.name.clone(),
            title: k.program.title.clone(),
            enabled: k.state.as_ref().is_some_and(|s| s.enabled),
            since: k.state.and_then(|s| s.since),
        })
        .collect();
    Ok(Json(items).into_response())
}

/// A customer's id in the path; anything else is a JSON 400 like every other error.
pub struct CustomerId(i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CustomerId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Response> {
        match Path::<i64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(CustomerId(id)),
            Err(e) => Err(error(
                StatusCode::BAD_REQUEST,
                "bad_path",
                format!("id: expected a customer's number: {}", e.body_text()),
            )),
        }
    }
}

fn no_customer(id: i64) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "customer_unknown",
        format!("id: no customer #{id}"),
    )
}

/// A customer 360, contacts masked (reveal one on the page, with a reason).
#[derive(Serialize, ToSchema)]
pub struct Customer360 {
    id: i64,
    /// The record: key, name, contacts (masked), consents, tags.
    #[schema(value_type = Object)]
    customer: guanxi_domain::Customer,
    /// The current build's profile with its explanations; null before a build.
    #[schema(value_type = Option<Object>)]
    profile: Option<guanxi_app::customers::CustomerProfile>,
    #[schema(value_type = Vec<Object>)]
    transitions: Vec<guanxi_store::Transition>,
    /// Orders, service records, reviews and messages, the newest first.
    #[schema(value_type = Object)]
    history: guanxi_store::History,
    #[schema(value_type = Vec<Object>)]
    open_tasks: Vec<guanxi_store::Task>,
}

/// One customer, whole (the 100 newest of each kind of record), contacts masked.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = i64, Path, description = "the customer's number")),
    responses((status = 200, body = Customer360), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn customer(State(s): State<AppState>, CustomerId(id): CustomerId) -> Result<Response, WebError> {
    let limits = guanxi_app::customers::Limits {
        history: 100,
        tasks: 100,
    };
    let Some(v) = guanxi_app::customers::view(s.shop(), id, limits).await? else {
        return Ok(no_customer(id));
    };
    let v = v.masked();
    Ok(Json(Customer360 {
        id: v.id,
        customer: v.customer,
        profile: v.profile,
        transitions: v.transitions,
        history: v.history,
        open_tasks: v.open_tasks,
    })
    .into_response())
}

/// Everything the shop holds about a person (the customer and the identities merged
/// into them), unmasked, for their data request (PIPL art. 45, GDPR art. 15); audited.
#[utoipa::path(get, path = "/api/v1/customers/{id}/privacy-export", tag = "privacy",
    params(("id" = i64, Path, description = "the customer's number")),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn privacy_export(State(s): State<AppState>, CustomerId(id): CustomerId) -> Result<Response, WebError> {
    let data = guanxi_app::privacy::export(s.shop(), id, &crate::auth::actor(), Utc::now()).await?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(data)).into_response())
}

/// What an erasure did.
#[derive(Serialize, ToSchema)]
pub struct ErasedBody {
    customers: usize,
    orders: usize,
    profile_details: usize,
}

/// Erases a person's personal data (PIPL art. 47, GDPR art. 17), keeping their orders'
/// money for the books; audited. Cannot be undone.
#[utoipa::path(post, path = "/api/v1/customers/{id}/erase", tag = "privacy",
    params(("id" = i64, Path, description = "the customer's number")),
    responses((status = 200, body = ErasedBody), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn privacy_erase(State(s): State<AppState>, CustomerId(id): CustomerId) -> Result<Response, WebError> {
    let e = guanxi_app::privacy::erase(s.shop(), id, &crate::auth::actor()).await?;
    Ok(Json(ErasedBody {
        customers: e.customers,
        orders: e.orders,
        profile_details: e.profile_details,
    })
    .into_response())
}

/// A page of anything listed with a cursor: pass `next_after` back as `after`.
#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// Start after this id (0: from the start).
    #[serde(default)]
    after: i64,
    /// At most this many (1 to 1,000).
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

/// The most rows one API page holds.
const MAX_PAGE: u32 = 1000;

/// A query string read as `T`; one that does not read is a JSON 400 `bad_query` naming
/// what is wrong, like every other error (axum's own rejection is plain text).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Response> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(ApiQuery(q)),
            Err(e) => Err(error(StatusCode::BAD_REQUEST, "bad_query", e.body_text())),
        }
    }
}

/// A JSON body read as `T`; one that does not read is a JSON 400 `bad_body`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(b)) => Ok(ApiJson(b)),
            Err(e) => Err(error(StatusCode::BAD_REQUEST, "bad_body", e.body_text())),
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct MembersQuery {
    /// A segment expression, or a saved segment's name.
    q: String,
    /// Start after this customer id (0: from the start).
    #[serde(default)]
    after: i64,
    /// At most this many (1 to 1,000).
    #[serde(default = "default_limit")]
    limit: u32,
}

/// One customer in a list: ids and name (a key that is an e-mail or a mobile masked).
#[derive(Serialize, ToSchema)]
pub struct Listed {
    id: i64,
    source: String,
    external_id: String,
    name: Option<String>,
}

impl From<guanxi_store::SegmentMember> for Listed {
    fn from(m: guanxi_store::SegmentMember) -> Listed {
        Listed {
            id: m.id,
            source: m.source,
            external_id: guanxi_app::customers::shown_id(&m.external_id),
            name: m.name,
        }
    }
}

/// A page of a segment's members.
#[derive(Serialize, ToSchema)]
pub struct MembersPage {
    expression: String,
    as_of: DateTime<Utc>,
    members: Vec<Listed>,
    /// Pass as `after` for the next page; null on the last.
    next_after: Option<i64>,
}

/// A segment's members in the current build, a page at a time (cursor: `after`).
#[utoipa::path(get, path = "/api/v1/segments/members", tag = "segments", params(MembersQuery),
    responses((status = 200, body = MembersPage), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError, description = "no profile build yet")))]
pub async fn segment_members(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> Result<Response, WebError> {
    let m = guanxi_app::segments::members(s.store.as_ref(), &q.q, "q", q.after, q.limit.clamp(1, MAX_PAGE)).await?;
    Ok(Json(MembersPage {
        expression: m.expression,
        as_of: m.as_of,
        members: m.members.into_iter().map(Listed::from).collect(),
        next_after: m.next_after,
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// A customer's number (#42), mobile, e-mail, id in its source or name.
    s: String,
}

/// Customers found by number, mobile, e-mail, id or name (at most 50).
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(SearchQuery),
    responses((status = 200, body = [Listed]), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn customer_search(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Response, WebError> {
    let Some(search) = guanxi_store::Search::parse(&q.s) else {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "s: what to search for is empty".into(),
        ));
    };
    let found = s.store.search_customers(&search, 50).await?;
    Ok(Json(found.into_iter().map(Listed::from).collect::<Vec<_>>()).into_response())
}

/// An order as the API lists it (its buyer's key masked when it is an e-mail or mobile).
#[derive(Serialize, ToSchema)]
pub struct OrderItem {
    id: i64,
    customer_id: Option<i64>,
    /// Bumped each time the order changes.
    revision: i64,
    /// The order: key, buyer, status, times, money in cents, lines.
    #[schema(value_type = Object)]
    order: guanxi_domain::Order,
}

/// A page of orders.
#[derive(Serialize, ToSchema)]
pub struct OrdersPage {
    orders: Vec<OrderItem>,
    /// Pass as `after` for the next page; null on the last.
    next_after: Option<i64>,
}

/// Every order in id order, a page at a time (cursor: `after`): a sync's feed.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(PageQuery),
    responses((status = 200, body = OrdersPage), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn orders(State(s): State<AppState>, ApiQuery(q): ApiQuery<PageQuery>) -> Result<Response, WebError> {
    let limit = q.limit.clamp(1, MAX_PAGE);
    let page = s.store.orders_after(q.after, limit).await?;
    let next_after = next_after(limit, page.len(), page.last().map(|o| o.id));
    let orders = page
        .into_iter()
        .map(|mut o| {
            if let Some(c) = &mut o.order.customer {
                c.external_id = guanxi_app::customers::shown_id(&c.external_id);
            }
            OrderItem {
                id: o.id,
                customer_id: o.customer_id,
                revision: o.revision,
                order: o.order,
            }
        })
        .collect();
    Ok(Json(OrdersPage { orders, next_after }).into_response())
}

/// The cursor of the page after one of `len` rows asked for `limit` at a time: the last
/// row's id while pages come full, none after the last.
fn next_after(limit: u32, len: usize, last: Option<i64>) -> Option<i64> {
    (len == limit as usize).then_some(last).flatten()
}

/// A service record as listed.
#[derive(Serialize, ToSchema)]
pub struct ServiceItem {
    id: i64,
    customer_id: i64,
    /// inquiry, in-sale, after-sale, return, complaint, dispute or praise.
    kind: String,
    /// open or closed.
    status: String,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    /// 1 to 5, when the customer rated it.
    satisfaction: Option<i64>,
    note: Option<String>,
}

/// A page of service records.
#[derive(Serialize, ToSchema)]
pub struct ServicePage {
    records: Vec<ServiceItem>,
    /// Pass as `after` for the next page; null on the last.
    next_after: Option<i64>,
}

/// Every customer's service records in id order, a page at a time (cursor: `after`).
#[utoipa::path(get, path = "/api/v1/service-records", tag = "service", params(PageQuery),
    responses((status = 200, body = ServicePage), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn service_records(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, WebError> {
    let limit = q.limit.clamp(1, MAX_PAGE);
    let page = guanxi_app::service::list(s.store.as_ref(), q.after, limit).await?;
    let next_after = next_after(limit, page.len(), page.last().map(|r| r.0));
    let records = page
        .into_iter()
        .map(|(id, customer_id, r)| ServiceItem {
            id,
            customer_id,
            kind: r.kind,
            status: r.status,
            opened_at: r.opened_at,
            closed_at: r.closed_at,
            satisfaction: r.satisfaction,
            note: r.note,
        })
        .collect();
    Ok(Json(ServicePage { records, next_after }).into_response())
}

/// A service record staff make by hand: a call taken, a complaint heard on WeChat.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceBody {
    /// The customer's number.
    customer: i64,
    /// inquiry, in-sale, after-sale, return, complaint, dispute or praise.
    #[schema(value_type = String)]
    kind: guanxi_domain::ServiceKind,
    /// open (the default) or closed.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    status: Option<guanxi_domain::ServiceStatus>,
    /// The order it concerns, by its id on its platform.
    #[serde(default)]
    order: Option<String>,
    /// The customer's satisfaction, 1 to 5.
    #[schema(value_type = Option<u8>)]
    #[serde(default)]
    satisfaction: Option<guanxi_domain::Rating>,
    /// What handling it cost the shop, in cents.
    #[serde(default)]
    cost_cents: i64,
    /// Up to 4,000 characters.
    #[serde(default)]
    note: Option<String>,
}

/// What a recorded service record is now known by.
#[derive(Serialize, ToSchema)]
pub struct RecordedService {
    external_id: String,
}

/// Records a service contact on a customer (audited under the caller's name); it counts
/// in their profit and satisfaction from the next profile build on.
#[utoipa::path(post, path = "/api/v1/service-records", tag = "service", request_body = NewServiceBody,
    responses((status = 201, body = RecordedService), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn service_record(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<NewServiceBody>,
) -> Result<Response, WebError> {
    let new = guanxi_app::service::NewService {
        customer: b.customer,
        kind: b.kind,
        status: b.status.unwrap_or(guanxi_domain::ServiceStatus::Open),
        order: b.order,
        satisfaction: b.satisfaction,
        cost: guanxi_domain::Cents(b.cost_cents),
        note: b.note,
    };
    let external_id = guanxi_app::service::record(s.store.as_ref(), &crate::auth::actor(), new, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(RecordedService { external_id })).into_response())
}

/// A review as listed.
#[derive(Serialize, ToSchema)]
pub struct ReviewItem {
    id: i64,
    customer_id: i64,
    created_at: DateTime<Utc>,
    /// 1 to 5: the item as described.
    item_rating: Option<i64>,
    /// 1 to 5: the seller's service.
    service_rating: Option<i64>,
    /// 1 to 5: the delivery.
    logistics_rating: Option<i64>,
    text: Option<String>,
}

/// A page of reviews.
#[derive(Serialize, ToSchema)]
pub struct ReviewsPage {
    reviews: Vec<ReviewItem>,
    /// Pass as `after` for the next page; null on the last.
    next_after: Option<i64>,
}

/// Every customer's reviews in id order, a page at a time (cursor: `after`).
#[utoipa::path(get, path = "/api/v1/reviews", tag = "service", params(PageQuery),
    responses((status = 200, body = ReviewsPage), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn reviews(State(s): State<AppState>, ApiQuery(q): ApiQuery<PageQuery>) -> Result<Response, WebError> {
    let limit = q.limit.clamp(1, MAX_PAGE);
    let page = guanxi_app::service::reviews(s.store.as_ref(), q.after, limit).await?;
    let next_after = next_after(limit, page.len(), page.last().map(|r| r.0));
    let reviews = page
        .into_iter()
        .map(|(id, customer_id, r)| ReviewItem {
            id,
            customer_id,
            created_at: r.created_at,
            item_rating: r.item_rating,
            service_rating: r.service_rating,
            logistics_rating: r.logistics_rating,
            text: r.text,
        })
        .collect();
    Ok(Json(ReviewsPage { reviews, next_after }).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct StatsQuery {
    /// A paid order within this many days after a message is its conversion (1 to 365).
    #[serde(default = "default_window")]
    window_days: u32,
}

fn default_window() -> u32 {
    7
}

/// What a program did, per step: messages by outcome, clicks, conversions, actions.
#[utoipa::path(get, path = "/api/v1/programs/{name}/stats", tag = "programs", params(ProgramName, StatsQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn program_stats(
    State(s): State<AppState>,
    Path(p): Path<ProgramName>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, WebError> {
    let stats = guanxi_app::programs::stats(s.store.as_ref(), Some(&p.name), q.window_days).await?;
    Ok(Json(stats).into_response())
}

/// A campaign's name in the path.
#[derive(Deserialize, IntoParams)]
pub struct CampaignName {
    /// As listed by `GET /api/v1/campaigns`.
    name: String,
}

/// Every campaign, the newest first: name, plan (TOML), seed, who created it, when it
/// was launched and how many members it snapshotted.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    responses((status = 200, body = [Object]), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn campaigns(State(s): State<AppState>) -> Result<Response, WebError> {
    Ok(Json(guanxi_app::campaigns::list(s.store.as_ref()).await?).into_response())
}

/// A campaign's plan, as `guanxi campaign create` reads it from a file.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// The plan in TOML (goal window, waves, audiences with holdout and variants).
    plan: String,
}

/// Creates a campaign from its plan: every field checked and named, each audience's
/// segment resolved; audited.
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn campaign_create(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<NewCampaign>,
) -> Result<Response, WebError> {
    let c =
        guanxi_app::campaigns::create(s.store.as_ref(), &b.plan, s.known(), &crate::auth::actor(), Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// Launches a campaign: its members snapshotted (each in the first audience that holds
/// them, drawn into a variant or the holdout, with why); once only; audited.
#[utoipa::path(post, path = "/api/v1/campaigns/{name}/launch", tag = "campaigns", params(CampaignName),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError, description = "no profile build yet")))]
pub async fn campaign_launch(State(s): State<AppState>, Path(p): Path<CampaignName>) -> Result<Response, WebError> {
    let l = guanxi_app::campaigns::launch(s.store.as_ref(), s.tz, &p.name, &crate::auth::actor(), Utc::now()).await?;
    Ok(Json(l).into_response())
}

/// The members a launch chose and why, by customer number (a cursor: `after`).
#[utoipa::path(get, path = "/api/v1/campaigns/{name}/members", tag = "campaigns", params(CampaignName, PageQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn campaign_members(
    State(s): State<AppState>,
    Path(p): Path<CampaignName>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, WebError> {
    let members = guanxi_app::campaigns::members(s.store.as_ref(), &p.name, q.after, q.limit).await?;
    Ok(Json(members).into_response())
}

/// Before launch: each audience as it would be drawn now, the share that bought in the
/// same window a year before, and the smallest conversion lift the split can detect.
#[utoipa::path(get, path = "/api/v1/campaigns/{name}/preview", tag = "campaigns", params(CampaignName),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn campaign_preview(State(s): State<AppState>, Path(p): Path<CampaignName>) -> Result<Response, WebError> {
    let l = guanxi_app::campaigns::preview(s.store.as_ref(), s.tz, &p.name, Utc::now()).await?;
    Ok(Json(l).into_response())
}

/// What a launched campaign earned: per audience × variant × wave and in total, treated
/// against the holdout, with 95 % intervals and a verdict the intervals support.
#[utoipa::path(get, path = "/api/v1/campaigns/{name}/report", tag = "campaigns", params(CampaignName),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError, description = "not launched yet")))]
pub async fn campaign_report(State(s): State<AppState>, Path(p): Path<CampaignName>) -> Result<Response, WebError> {
    let e = guanxi_app::campaigns::report(s.store.as_ref(), s.tz, &p.name, Utc::now()).await?;
    Ok(Json(e).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct TasksQuery {
    /// Closed tasks too.
    #[serde(default)]
    all: bool,
    /// At most this many (1 to 1,000).
    #[serde(default = "default_limit")]
    limit: u32,
}

/// Service tasks, the earliest due first (open ones unless `all`).
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TasksQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn tasks(State(s): State<AppState>, ApiQuery(q): ApiQuery<TasksQuery>) -> Result<Response, WebError> {
    let mut tasks = guanxi_app::tasks::list(s.store.as_ref(), q.all, None, q.limit).await?;
    for t in &mut tasks {
        t.customer_external_id = guanxi_app::customers::shown_id(&t.customer_external_id);
    }
    Ok(Json(tasks).into_response())
}

/// A task to close.
#[derive(Deserialize, ToSchema)]
pub struct TaskKey {
    /// The task's key, as listed.
    key: String,
}

/// Closes an open task (audited under the caller's name); its text.
#[utoipa::path(post, path = "/api/v1/tasks/done", tag = "tasks", request_body = TaskKey,
    responses((status = 200, body = String), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn task_done(State(s): State<AppState>, ApiJson(k): ApiJson<TaskKey>) -> Result<Response, WebError> {
    let text = guanxi_app::tasks::close(s.store.as_ref(), &k.key, &crate::auth::actor(), Utc::now()).await?;
    Ok(Json(text).into_response())
}

/// A program's name in the path.
#[derive(Deserialize, IntoParams)]
pub struct ProgramName {
    /// As listed by `GET /api/v1/programs`.
    name: String,
}

/// Turns a program on (its runs start now) or off; audited under the caller's name.
async fn switch(s: &AppState, name: &str, on: bool) -> Result<Response, WebError> {
    let store = s.store.as_ref();
    let by = crate::auth::actor();
    let Some((program, text)) = guanxi_app::programs::find(store, name).await? else {
        return Err(guanxi_app::programs::unknown(name).into());
    };
    let state = if on {
        guanxi_app::programs::enable(store, &program, text, &s.membership.coupons, Utc::now(), &by).await?
    } else {
        guanxi_app::programs::disable(store, name, &by).await?
    };
    Ok(Json(ProgramItem {
        name: state.name,
        title: program.title,
        enabled: state.enabled,
        since: state.since,
    })
    .into_response())
}

/// Enables a program: its runs start now.
#[utoipa::path(post, path = "/api/v1/programs/{name}/enable", tag = "programs", params(ProgramName),
    responses((status = 200, body = ProgramItem), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn program_enable(State(s): State<AppState>, Path(p): Path<ProgramName>) -> Result<Response, WebError> {
    switch(&s, &p.name, true).await
}

/// Disables a program: the scheduler plans nothing more for it.
#[utoipa::path(post, path = "/api/v1/programs/{name}/disable", tag = "programs", params(ProgramName),
    responses((status = 200, body = ProgramItem), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn program_disable(State(s): State<AppState>, Path(p): Path<ProgramName>) -> Result<Response, WebError> {
    switch(&s, &p.name, false).await
}

#[derive(Deserialize, IntoParams)]
pub struct PreviewQuery {
    /// The step's name, as the program lists it.
    step: String,
    /// The customer's number.
    customer: i64,
}

/// What a step would send one customer, rendered as the worker would (nothing is sent).
#[derive(Serialize, ToSchema)]
pub struct PreviewBody {
    program: String,
    step: String,
    /// sms, email, wechat or webhook.
    channel: String,
    template: String,
    subject: String,
    text: String,
}

/// Renders a step's message for a customer: a preview, nothing sent or recorded.
#[utoipa::path(get, path = "/api/v1/programs/{name}/preview", tag = "programs", params(ProgramName, PreviewQuery),
    responses((status = 200, body = PreviewBody), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn program_preview(
    State(s): State<AppState>,
    Path(p): Path<ProgramName>,
    ApiQuery(q): ApiQuery<PreviewQuery>,
) -> Result<Response, WebError> {
    let v = guanxi_app::programs::preview(s.store.as_ref(), &s.writing, &p.name, &q.step, q.customer).await?;
    Ok(Json(PreviewBody {
        program: v.program,
        step: v.step,
        channel: v.channel.as_str().into(),
        template: v.template,
        subject: v.subject,
        text: v.text,
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct ExportQuery {
    /// A segment expression, or a saved segment's name; everyone profiled when absent.
    q: Option<String>,
}

/// A segment's members as CSV (the columns of `guanxi customers export`: who, contacts
/// masked, every class and measure), streamed; audited.
#[utoipa::path(get, path = "/api/v1/segments/export", tag = "segments", params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError),
              (status = 409, body = ApiError, description = "no profile build yet")))]
pub async fn segment_export(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, WebError> {
    crate::customers::export(State(s), Query(crate::customers::Filter::of_expression(q.q))).await
}

/// A profile in a list: who (a key that is an e-mail or a mobile masked) and the current
/// build's columns — classes by kind, measures, forecast.
#[derive(Serialize, ToSchema)]
pub struct ProfileItem {
    id: i64,
    source: String,
    external_id: String,
    name: Option<String>,
    /// `{"classes": {kind: class}, "paid_orders": …, "paid_amount_cents": …, …}`
    #[schema(value_type = Object)]
    profile: guanxi_store::ProfileRow,
}

/// A page of profiles.
#[derive(Serialize, ToSchema)]
pub struct ProfilesBody {
    as_of: DateTime<Utc>,
    profiles: Vec<ProfileItem>,
    /// Pass as `after` for the next page; null on the last.
    next_after: Option<i64>,
}

/// The current build's profiles in customer id order, a page at a time (cursor: `after`).
#[utoipa::path(get, path = "/api/v1/profiles", tag = "segments", params(PageQuery),
    responses((status = 200, body = ProfilesBody), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError, description = "no profile build yet")))]
pub async fn profiles(State(s): State<AppState>, ApiQuery(q): ApiQuery<PageQuery>) -> Result<Response, WebError> {
    let page = guanxi_app::profiles::page(s.store.as_ref(), q.after, q.limit.clamp(1, MAX_PAGE)).await?;
    Ok(Json(ProfilesBody {
        as_of: page.as_of,
        profiles: page
            .profiles
            .into_iter()
            .map(|p| ProfileItem {
                id: p.id,
                source: p.customer.key.source.to_string(),
                external_id: guanxi_app::customers::shown_id(&p.customer.key.external_id),
                name: p.customer.name,
                profile: p.profile,
            })
            .collect(),
        next_after: page.next_after,
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// At most this many of each kind of record, the newest first (1 to 1,000).
    #[serde(default = "default_limit")]
    limit: u32,
}

/// A customer's orders, service records, reviews and messages, the newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/history", tag = "customers",
    params(("id" = i64, Path, description = "the customer's number"), HistoryQuery),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn customer_history(
    State(s): State<AppState>,
    CustomerId(id): CustomerId,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, WebError> {
    if s.store.customer_by_id(id).await?.is_none() {
        return Ok(no_customer(id));
    }
    let history = s.store.customer_history(id, q.limit.clamp(1, MAX_PAGE)).await?;
    Ok(Json(history).into_response())
}

/// A member's tier, points balance (available, owed), lots and every points event.
#[utoipa::path(get, path = "/api/v1/customers/{id}/points", tag = "members",
    params(("id" = i64, Path, description = "the customer's number")),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn member_points(State(s): State<AppState>, CustomerId(id): CustomerId) -> Result<Response, WebError> {
    if s.store.customer_by_id(id).await?.is_none() {
        return Ok(no_customer(id));
    }
    Ok(Json(guanxi_app::points::show(s.store.as_ref(), id).await?).into_response())
}

/// A manual points adjustment.
#[derive(Deserialize, ToSchema)]
pub struct AdjustBody {
    /// Positive: a lot that expires like an earning; negative: taken like a redemption,
    /// into a recorded debt beyond the balance.
    points: i64,
    /// Why (kept in the ledger with the caller's name).
    reason: String,
    /// What makes it unique: the same reference again is the same adjustment.
    reference: String,
}

/// Adjusts a member's points with a reason (members capability); a repeated reference
/// changes nothing. What was posted and the balance after.
#[utoipa::path(post, path = "/api/v1/customers/{id}/points/adjustments", tag = "members",
    params(("id" = i64, Path, description = "the customer's number")), request_body = AdjustBody,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn member_adjust(
    State(s): State<AppState>,
    CustomerId(id): CustomerId,
    ApiJson(b): ApiJson<AdjustBody>,
) -> Result<Response, WebError> {
    if s.store.customer_by_id(id).await?.is_none() {
        return Ok(no_customer(id));
    }
    let a = guanxi_app::points::Adjustment {
        customer_id: id,
        points: b.points,
        reason: b.reason,
        reference: b.reference,
    };
    let posted = guanxi_app::points::adjust(
        s.store.as_ref(),
        &a,
        s.membership.rules,
        &crate::auth::actor(),
        Utc::now(),
    )
    .await?;
    Ok(Json(posted).into_response())
}

/// Points a member spends.
#[derive(Deserialize, ToSchema)]
pub struct RedeemBody {
    points: u64,
    /// The shop's order or voucher that spent them: the same reference again is the
    /// same redemption.
    reference: String,
}

/// Spends a member's points, from the lots that expire first; refused (400,
/// `points_refused`) beyond the balance, with nothing recorded. The reference is the
/// shop's, as `guanxi member redeem --reference` takes it: the same order through the
/// CLI and the API is one redemption.
#[utoipa::path(post, path = "/api/v1/customers/{id}/points/redemptions", tag = "members",
    params(("id" = i64, Path, description = "the customer's number")), request_body = RedeemBody,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn member_redeem(
    State(s): State<AppState>,
    CustomerId(id): CustomerId,
    ApiJson(b): ApiJson<RedeemBody>,
) -> Result<Response, WebError> {
    if s.store.customer_by_id(id).await?.is_none() {
        return Ok(no_customer(id));
    }
    let posted = guanxi_app::points::redeem(
        s.store.as_ref(),
        id,
        b.points,
        "shop",
        &b.reference,
        &crate::auth::actor(),
        Utc::now(),
    )
    .await?;
    Ok(Json(posted).into_response())
}

/// A member's coupons, the newest first, with the order that redeemed each.
#[utoipa::path(get, path = "/api/v1/customers/{id}/coupons", tag = "members",
    params(("id" = i64, Path, description = "the customer's number")),
    responses((status = 200, body = [Object]), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn member_coupons(State(s): State<AppState>, CustomerId(id): CustomerId) -> Result<Response, WebError> {
    if s.store.customer_by_id(id).await?.is_none() {
        return Ok(no_customer(id));
    }
    let filter = guanxi_store::CouponFilter {
        customer_id: Some(id),
        limit: guanxi_app::coupons::MAX_LIST,
        ..Default::default()
    };
    Ok(Json(guanxi_app::coupons::list(s.store.as_ref(), &filter).await?).into_response())
}

/// A coupon to issue by hand.
#[derive(Deserialize, ToSchema)]
pub struct IssueBody {
    /// The coupon's definition (`[coupons.NAME]` in the settings).
    coupon: String,
    /// Makes a repeated request issue once.
    key: Option<String>,
}

/// Issues a coupon to a member (members capability; audited). With a key, a repeated
/// request returns the coupon issued the first time.
#[utoipa::path(post, path = "/api/v1/customers/{id}/coupons", tag = "members",
    params(("id" = i64, Path, description = "the customer's number")), request_body = IssueBody,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn member_coupon_issue(
    State(s): State<AppState>,
    CustomerId(id): CustomerId,
    ApiJson(b): ApiJson<IssueBody>,
) -> Result<Response, WebError> {
    if s.store.customer_by_id(id).await?.is_none() {
        return Ok(no_customer(id));
    }
    let request = guanxi_app::coupons::Issue {
        customer_id: id,
        coupon: b.coupon,
        key: b.key,
    };
    let coupon = guanxi_app::coupons::issue(
        s.store.as_ref(),
        &s.membership.coupons,
        &request,
        &crate::auth::actor(),
        Utc::now(),
    )
    .await?;
    Ok(Json(coupon).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct CouponsQuery {
    /// One coupon by its code.
    code: Option<String>,
    /// What issued them: a program (`second-purchase`, `campaign:618`), `manual:NAME`.
    source: Option<String>,
    /// At most this many, the newest first (1 to 1,000).
    #[serde(default = "default_limit")]
    limit: u32,
}

/// Coupons issued, the newest first: a shop's till checks a code here.
#[utoipa::path(get, path = "/api/v1/coupons", tag = "members", params(CouponsQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn coupons(State(s): State<AppState>, ApiQuery(q): ApiQuery<CouponsQuery>) -> Result<Response, WebError> {
    let filter = guanxi_store::CouponFilter {
        code: q.code,
        source: q.source,
        limit: q.limit,
        ..Default::default()
    };
    Ok(Json(guanxi_app::coupons::list(s.store.as_ref(), &filter).await?).into_response())
}

/// The points liability: outstanding points and their value, debt, what expires in the
/// month ahead, and the breakage the shop's history predicts.
#[utoipa::path(get, path = "/api/v1/points/liability", tag = "members",
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn points_liability(State(s): State<AppState>) -> Result<Response, WebError> {
    let l = guanxi_app::points::liability(s.store.as_ref(), s.membership.rules, Utc::now()).await?;
    Ok(Json(l).into_response())
}

/// Two records of one person: `merged` goes into `kept`.
#[derive(Deserialize, ToSchema)]
pub struct MergeBody {
    kept: i64,
    merged: i64,
}

/// Merges one customer record into another (one person from now on; the most restrictive
/// consent per channel kept); audited. Rebuild the profiles to see them as one.
#[utoipa::path(post, path = "/api/v1/customers/merge", tag = "customers", request_body = MergeBody,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn customer_merge(State(s): State<AppState>, ApiJson(b): ApiJson<MergeBody>) -> Result<Response, WebError> {
    guanxi_app::customers::merge(s.store.as_ref(), b.kept, b.merged, &crate::auth::actor()).await?;
    Ok(Json(serde_json::json!({ "kept": b.kept, "merged": b.merged })).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct DuplicatesQuery {
    /// At most this many pairs (1 to 1,000).
    #[serde(default = "default_limit")]
    limit: u32,
}

/// Pairs of records sharing a mobile number or e-mail (the shared value masked).
#[utoipa::path(get, path = "/api/v1/customers/duplicates", tag = "customers", params(DuplicatesQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn customer_duplicates(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<DuplicatesQuery>,
) -> Result<Response, WebError> {
    let pairs = guanxi_app::customers::duplicates(s.store.as_ref(), q.limit.clamp(1, MAX_PAGE), false).await?;
    Ok(Json(pairs).into_response())
}

/// A report's name in the path.
#[derive(Deserialize, IntoParams)]
pub struct ReportName {
    /// repurchase, categories, retention, cohorts, cycles, orders, movements or clv.
    name: String,
}

#[derive(Deserialize, IntoParams)]
pub struct PeriodQuery {
    /// month, quarter (the default) or year.
    period: Option<String>,
    /// movements: from the end of this day (YYYY-MM-DD, the shop's time) on.
    since: Option<String>,
}

/// A report: over the shop's orders up to the last one, per period — repurchase,
/// categories, retention, cohorts, cycles (paid orders, buyers), orders (every order,
/// guest orders included) —; or over the profile builds — movements (class changes
/// between builds, since a day) and clv (the current build's predicted CLV distribution).
#[utoipa::path(get, path = "/api/v1/reports/{name}", tag = "reports", params(ReportName, PeriodQuery),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn report(
    State(s): State<AppState>,
    Path(r): Path<ReportName>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Response, WebError> {
    use guanxi_domain::report::{Granularity, OrderReport};
    let granularity = match q.period.as_deref().unwrap_or("quarter") {
        "month" => Granularity::Month,
        "quarter" => Granularity::Quarter,
        "year" => Granularity::Year,
        other => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                "bad_period",
                format!("period: expected month, quarter or year, found {other:?}"),
            ));
        }
    };
    match r.name.as_str() {
        "movements" => {
            let since = q
                .since
                .as_deref()
                .map(|d| guanxi_app::profiles::end_of_day(d, s.tz, "since"))
                .transpose()?;
            let moves = s.store.movements(since).await?;
            return Ok(Json(serde_json::json!({ "since": since, "movements": moves })).into_response());
        }
        "clv" => {
            let build = guanxi_app::profiles::current_build(s.store.as_ref()).await?;
            let buckets = s.store.clv_distribution().await?;
            return Ok(
                Json(serde_json::json!({ "build_id": build.id, "as_of": build.as_of, "buckets": buckets }))
                    .into_response(),
            );
        }
        _ => {}
    }
    if r.name == "orders" {
        let periods = s
            .analytics
            .order_figures(granularity)
            .await
            .map_err(WebError::Analytics)?;
        return Ok(Json(serde_json::json!({ "granularity": granularity, "periods": periods })).into_response());
    }
    let Some(which) = OrderReport::parse(&r.name) else {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "report_unknown",
            format!(
                "name: expected repurchase, categories, retention, cohorts, cycles, orders, movements or clv, found {:?} (the classes are /api/v1/reports/classes)",
                r.name
            ),
        ));
    };
    let reports = s
        .analytics
        .order_reports(granularity)
        .await
        .map_err(WebError::Analytics)?;
    Ok(Json(reports.document(which)).into_response())
}

/// One class of the current build: its customers and what they bring (cents).
#[derive(Serialize, ToSchema)]
pub struct ClassRow {
    /// relationship, activity, lifecycle, quadrant, pricing, tier, rfm11…
    kind: String,
    class: String,
    customers: u64,
    paid_amount_cents: i64,
    profit_cents: i64,
    clv_cents: i64,
}

/// Every class of every kind in the current build, with its customers and money.
#[utoipa::path(get, path = "/api/v1/reports/classes", tag = "reports",
    responses((status = 200, body = [ClassRow]), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn report_classes(State(s): State<AppState>) -> Result<Response, WebError> {
    let rows: Vec<ClassRow> = s
        .store
        .class_totals()
        .await?
        .into_iter()
        .map(|t| ClassRow {
            kind: t.kind,
            class: t.class,
            customers: t.customers,
            paid_amount_cents: t.paid_amount_cents,
            profit_cents: t.profit_cents,
            clv_cents: t.clv_cents,
        })
        .collect();
    Ok(Json(rows).into_response())
}

/// Answers every endpoint may give, whatever it does: too many requests (429, with
/// `Retry-After`) and an answer that took too long (503), both `{code, message, details}`.
struct Limits;

impl utoipa::Modify for Limits {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let answer = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ApiError")))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                op.responses.responses.insert(
                    "429".into(),
                    answer("too many requests from this address or token: wait (Retry-After)").into(),
                );
                op.responses
                    .responses
                    .insert("503".into(), answer("the answer took too long: try again").into());
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&Limits),
    info(
        title = "guanxi",
        description = "guanxi's REST API: call with `Authorization: Bearer gx_…` (guanxi token create)."
    ),
    paths(
        me,
        segment_count,
        segment_members,
        segment_export,
        programs,
        program_enable,
        program_disable,
        program_preview,
        program_stats,
        customer_search,
        customer_duplicates,
        customer_merge,
        customer,
        customer_history,
        member_points,
        member_adjust,
        member_redeem,
        member_coupons,
        member_coupon_issue,
        coupons,
        points_liability,
        profiles,
        privacy_export,
        privacy_erase,
        orders,
        tasks,
        task_done,
        service_records,
        service_record,
        reviews,
        campaigns,
        campaign_create,
        campaign_launch,
        campaign_members,
        campaign_preview,
        campaign_report,
        report_classes,
        report,
        crate::events::shopify,
        crate::events::event
    ),
    components(schemas(
        ApiError,
        Me,
        Count,
        ProgramItem,
        Customer360,
        ErasedBody,
        Listed,
        MembersPage,
        OrderItem,
        OrdersPage,
        TaskKey,
        ServiceItem,
        ServicePage,
        NewServiceBody,
        NewCampaign,
        RecordedService,
        ReviewItem,
        ReviewsPage,
        ClassRow,
        PreviewBody,
        MergeBody,
        AdjustBody,
        RedeemBody,
        IssueBody,
        ProfileItem,
        ProfilesBody
    ))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`: the document, generated from the code above.
pub async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(text) => ([(axum::http::header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => WebError::Lake(e.to_string()).into_response(),
    }
}
