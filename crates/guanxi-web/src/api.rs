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
pub async fn segment_count(
    State(s): State<AppState>,
    q: Result<Query<CountQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, WebError> {
    // A query that does not parse is answered like every other error, in JSON.
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return Ok(error(StatusCode::BAD_REQUEST, "bad_query", e.body_text())),
    };
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

fn shop(s: &AppState) -> guanxi_app::Shop<'_> {
    guanxi_app::Shop {
        store: s.store.as_ref(),
        lake: &s.lake,
        tz: s.tz,
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
    profile: Option<serde_json::Value>,
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
    let Some(v) = guanxi_app::customers::view(shop(&s), id, limits).await? else {
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

fn actor() -> guanxi_app::access::Actor {
    crate::auth::viewer().map_or_else(guanxi_app::access::Actor::cli, |v| v.actor())
}

/// Everything the shop holds about a person (the customer and the identities merged
/// into them), unmasked, for their data request (PIPL art. 45, GDPR art. 15); audited.
#[utoipa::path(get, path = "/api/v1/customers/{id}/privacy-export", tag = "privacy",
    params(("id" = i64, Path, description = "the customer's number")),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn privacy_export(State(s): State<AppState>, CustomerId(id): CustomerId) -> Result<Response, WebError> {
    let data = guanxi_app::privacy::export(shop(&s), id, &actor(), Utc::now()).await?;
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
    let e = guanxi_app::privacy::erase(shop(&s), id, &actor()).await?;
    Ok(Json(ErasedBody {
        customers: e.customers,
        orders: e.orders,
        profile_details: e.profile_details,
    })
    .into_response())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "guanxi",
        description = "guanxi's REST API: call with `Authorization: Bearer gx_…` (guanxi token create)."
    ),
    paths(
        me,
        segment_count,
        programs,
        customer,
        privacy_export,
        privacy_erase,
        crate::events::shopify,
        crate::events::event
    ),
    components(schemas(ApiError, Me, Count, ProgramItem, Customer360, ErasedBody))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`: the document, generated from the code above.
pub async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(text) => ([(axum::http::header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => WebError::Lake(e.to_string()).into_response(),
    }
}
