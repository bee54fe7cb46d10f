//! Customers' responses to messages: a click on a tracked link (recorded, then on to the
//! shop), the unsubscribe link (a page that asks, then withdraws consent on a POST, so
//! that mail scanners fetching links do not unsubscribe anyone), and SMS replies reported
//! by the gateway (回复TD退订 withdraws SMS consent). Links are signed per message; a
//! wrong signature is a 404, telling nothing.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use guanxi_domain::{Channel, Mobile};
use guanxi_engage::LinkKind;
use maud::html;
use serde::Deserialize;

use crate::{AppState, WebError, html, lang_of};

/// What the engagement endpoints need; absent, they answer 404.
#[derive(Clone)]
pub struct Responses {
    pub links: guanxi_engage::LinkKey,
    /// Where a tracked link leads after the click is recorded.
    pub shop_url: String,
    /// The secret gateways sign SMS reply callbacks with (HMAC-SHA256 of the body).
    pub inbound_secret: Option<Vec<u8>>,
}

#[derive(Deserialize)]
pub struct Signed {
    s: String,
    lang: Option<String>,
}

fn verified(state: &AppState, kind: LinkKind, id: i64, sig: &str) -> bool {
    state.responses.as_ref().is_some_and(|r| r.links.verify(kind, id, sig))
}

/// `GET /r/{id}?s=…`: a tracked link.
pub async fn click(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Signed>,
) -> Result<Response, WebError> {
    if !verified(&s, LinkKind::Track, id, &q.s) {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    s.store.record_click(id, Utc::now()).await?;
    let to = s
        .responses
        .as_ref()
        .map(|r| r.shop_url.clone())
        .filter(|u| !u.is_empty());
    Ok(Redirect::to(to.as_deref().unwrap_or("/")).into_response())
}

/// `GET /u/{id}?s=…`: asks before unsubscribing.
pub async fn ask(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
) -> Response {
    if !verified(&s, LinkKind::Unsubscribe, id, &q.s) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let lang = lang_of(q.lang.as_deref(), &headers);
    let zh = lang == crate::Lang::ZhCn;
    html(html! {
        (maud::DOCTYPE)
        html lang=(if zh { "zh-CN" } else { "en" }) {
            head { meta charset="utf-8"; title { (if zh { "退订" } else { "Unsubscribe" }) } }
            body {
                form method="post" action={ "/u/" (id) "?s=" (q.s) } {
                    p { (if zh { "不再接收此类消息？" } else { "Stop receiving these messages?" }) }
                    button type="submit" { (if zh { "确认退订" } else { "Unsubscribe" }) }
                }
            }
        }
    })
    .into_response()
}

/// `POST /u/{id}?s=…`: withdraws consent on the message's channel (also RFC 8058's
/// one-click `List-Unsubscribe-Post`).
pub async fn unsubscribe(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if !verified(&s, LinkKind::Unsubscribe, id, &q.s) {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    if s.store.unsubscribe(id, Utc::now()).await?.is_none() {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    let zh = lang_of(q.lang.as_deref(), &headers) == crate::Lang::ZhCn;
    Ok(html(html! {
        (maud::DOCTYPE)
        html { head { meta charset="utf-8"; } body { p { (if zh { "已退订。" } else { "You are unsubscribed." }) } } }
    })
    .into_response())
}

#[derive(Deserialize)]
struct Reply {
    /// The sender's mobile number.
    from: String,
    text: String,
}

#[derive(Deserialize)]
struct Receipt {
    /// The message's ledger key (sent as the idempotency key).
    id: String,
    /// `delivered` or `failed`.
    status: String,
    #[serde(default)]
    error: String,
}

/// Checks a gateway callback's signature; the refusal to answer when it is wrong.
fn signed(s: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), (StatusCode, &'static str)> {
    let Some(secret) = s.responses.as_ref().and_then(|r| r.inbound_secret.clone()) else {
        return Err((StatusCode::NOT_FOUND, "no gateway callbacks are configured"));
    };
    let given = headers
        .get("x-guanxi-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !guanxi_engage::signature_matches(&secret, body, given) {
        return Err((StatusCode::UNAUTHORIZED, "bad signature"));
    }
    Ok(())
}

/// `POST /hooks/receipt`: a gateway's delivery receipt, `{"id": ledger key, "status":
/// "delivered" | "failed", "error": …}`, signed like replies.
pub async fn receipt(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, WebError> {
    if let Err(refused) = signed(&s, &headers, &body) {
        return Ok(refused.into_response());
    }
    let r: Receipt = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("expected {{\"id\": ledger key, \"status\": \"delivered\" | \"failed\"}}: {e}");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, message).into_response());
        }
    };
    let delivered = match r.status.as_str() {
        "delivered" => true,
        "failed" => false,
        other => {
            let message = format!("status: expected delivered or failed, found {other:?}");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, message).into_response());
        }
    };
    let updated = s.store.record_receipt(&r.id, delivered, Utc::now(), &r.error).await?;
    Ok(axum::Json(serde_json::json!({"updated": updated})).into_response())
}

/// `POST /hooks/sms/reply`: a gateway reports an SMS reply, `{"from": …, "text": …}`,
/// signed `X-Guanxi-Signature: sha256=<hex HMAC of the body>`. An opt-out reply withdraws
/// SMS consent of every customer with that number, with the reply as evidence.
pub async fn sms_reply(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, WebError> {
    if let Err(refused) = signed(&s, &headers, &body) {
        return Ok(refused.into_response());
    }
    let reply: Reply = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("expected {{\"from\": mobile, \"text\": reply}}: {e}"),
            )
                .into_response());
        }
    };
    let Ok(mobile) = Mobile::parse(&reply.from) else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("from: not a mobile number: {:?}", reply.from),
        )
            .into_response());
    };
    if !guanxi_engage::is_opt_out(&reply.text) {
        return Ok(axum::Json(serde_json::json!({"opt_out": false, "customers": []})).into_response());
    }
    let evidence = format!("SMS reply {:?} from {}", reply.text.trim(), mobile.as_str());
    let ids = s
        .store
        .opt_out(Channel::Sms, mobile.as_str(), Utc::now(), &evidence)
        .await?;
    Ok(axum::Json(serde_json::json!({"opt_out": true, "customers": ids})).into_response())
}
