//! Live events in: `POST /api/v1/webhooks/shopify` (Shopify's webhooks, signed with the
//! app's secret) and `POST /api/v1/events` (guanxi's signed order event, for a Taobao/Tmall
//! middleware or an ERP). Public routes: the signature, not a session, says who sent them.
//! An unverifiable request is 401, logged and audited; a verified one is applied by the
//! use case (`guanxi_app::events`) and wakes the scheduler, so that what the event makes
//! due is queued now rather than at the next pass.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use guanxi_app::access::Actor;
use guanxi_app::events::{self, Received, Verified};

use crate::api::{ApiError, error};
use crate::{AppState, WebError};

/// The secrets events are signed with, and whom to wake when one is applied.
#[derive(Clone, Default)]
pub struct Live {
    /// The Shopify app's client secret (webhooks are signed with it).
    pub shopify_secret: Option<Vec<u8>>,
    /// The secret signed events are signed with (`X-Guanxi-Signature: sha256=<hex>`).
    pub events_secret: Option<Vec<u8>>,
    /// Notified after an event is applied: the engagement engine plans at once.
    pub wake: Arc<tokio::sync::Notify>,
}

/// The largest event body read: Shopify's orders with many lines run to hundreds of KiB.
pub const MAX_EVENT_BODY: usize = 2 * 1024 * 1024;

/// The client's address, for the log and the audit.
fn client(ext: &axum::http::Extensions) -> String {
    ext.get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// 401 for a body whose signature does not verify: logged, and audited with where it
/// came from.
async fn refused(s: &AppState, from: &str, endpoint: &str) -> Result<Response, WebError> {
    tracing::warn!(%from, endpoint, "an event whose signature does not verify was refused");
    let by = Actor {
        name: "anonymous".into(),
        origin: from.to_string(),
    };
    guanxi_app::access::record(
        s.store.as_ref(),
        &by,
        "event.refused",
        endpoint.to_string(),
        "the signature does not verify".into(),
    )
    .await?;
    Ok(error(
        StatusCode::UNAUTHORIZED,
        "bad_signature",
        "the request's signature does not verify with this shop's secret".into(),
    ))
}

fn answered(s: &AppState, r: Result<Received, guanxi_app::AppError>) -> Result<Response, WebError> {
    let received = r?;
    if matches!(received, Received::Applied { .. }) {
        s.live.wake.notify_one();
    }
    Ok(axum::Json(received).into_response())
}

/// The two event endpoints: their secret, its variable, their path.
#[derive(Clone, Copy)]
enum Endpoint {
    Shopify,
    Events,
}

impl Endpoint {
    fn secret(self, live: &Live) -> Option<&[u8]> {
        match self {
            Endpoint::Shopify => live.shopify_secret.as_deref(),
            Endpoint::Events => live.events_secret.as_deref(),
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Endpoint::Shopify => "GUANXI_SHOPIFY_SECRET",
            Endpoint::Events => "GUANXI_EVENTS_SECRET",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::Shopify => "/api/v1/webhooks/shopify",
            Endpoint::Events => "/api/v1/events",
        }
    }
}

/// The body verified with the endpoint's secret by `verify`; else the answer: 404 when no
/// secret is configured, 401 (logged, audited) when the signature does not verify.
async fn signed<'b>(
    s: &AppState,
    ext: &axum::http::Extensions,
    endpoint: Endpoint,
    verify: impl FnOnce(&[u8]) -> Option<Verified<'b>>,
) -> Result<Result<Verified<'b>, Response>, WebError> {
    let Some(secret) = endpoint.secret(&s.live) else {
        return Ok(Err(error(
            StatusCode::NOT_FOUND,
            "not_configured",
            format!("no secret is configured for this endpoint ({})", endpoint.variable()),
        )));
    };
    match verify(secret) {
        Some(v) => Ok(Ok(v)),
        None => Ok(Err(refused(s, &client(ext), endpoint.path()).await?)),
    }
}

/// A Shopify webhook. Headers: `X-Shopify-Topic`, `X-Shopify-Hmac-Sha256` (base64
/// HMAC-SHA256 of the raw body with the app's secret), `X-Shopify-Event-Id` (the delivery,
/// repeated on retries; older deliveries name it `X-Shopify-Webhook-Id`).
#[utoipa::path(post, path = "/api/v1/webhooks/shopify", tag = "events",
    request_body(content = String, content_type = "application/json", description = "Shopify's payload for the topic"),
    responses((status = 200, description = "applied, or a repeat of a delivery applied before"),
              (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 404, body = ApiError, description = "no Shopify secret is configured"),
              (status = 409, body = ApiError, description = "the order it names has not come yet: retry later")))]
pub async fn shopify(
    State(s): State<AppState>,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let verified = match signed(&s, &ext, Endpoint::Shopify, |secret| {
        Verified::shopify(secret, &body, header(&headers, "x-shopify-hmac-sha256"))
    })
    .await?
    {
        Ok(v) => v,
        Err(refusal) => return Ok(refusal),
    };
    let id = match header(&headers, "x-shopify-event-id") {
        "" => header(&headers, "x-shopify-webhook-id"),
        id => id,
    };
    let topic = header(&headers, "x-shopify-topic");
    answered(&s, events::shopify(s.shop(), topic, id, verified, Utc::now()).await)
}

/// A signed order event from any platform (see `guanxi_import::events::Event` for the
/// body). Header: `X-Guanxi-Signature: sha256=<hex HMAC-SHA256 of the body>`.
#[utoipa::path(post, path = "/api/v1/events", tag = "events",
    request_body(content = String, content_type = "application/json",
        description = "{\"id\", \"source\", \"type\": \"order.created|paid|shipped|arrived|signed|completed|closed|refunded\", \"at\", \"order\": {\"id\", \"customer\", \"lines\": [{\"sku\", \"amount\"}]}}"),
    responses((status = 200, description = "applied, or a repeat of an event applied before"),
              (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 404, body = ApiError, description = "no events secret is configured"),
              (status = 409, body = ApiError, description = "the order it moves has not come yet: retry later")))]
pub async fn event(
    State(s): State<AppState>,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let verified = match signed(&s, &ext, Endpoint::Events, |secret| {
        Verified::guanxi(secret, &body, header(&headers, "x-guanxi-signature"))
    })
    .await?
    {
        Ok(v) => v,
        Err(refusal) => return Ok(refusal),
    };
    answered(&s, events::event(s.shop(), verified, Utc::now()).await)
}
