//! Sign-in and who may reach what. Every route but the sign-in page, customers' own links
//! (click-through, unsubscribe) and gateways' signed callbacks needs a session: without
//! one a page answers 401 with the sign-in form, an `/api/` endpoint 401 with JSON. A
//! role without the route's capability gets 403. Every POST with a session must carry
//! the session's form token (`csrf`) and, when the browser says where it comes from
//! (`Origin`), come from this server. The session cookie is HTTP-only and SameSite=Strict;
//! a sign-in always opens a new session (and ends the one it replaces).

use axum::body::Body;
use axum::extract::{ConnectInfo, Form, FromRequest as _, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use guanxi_app::access::{self, Actor};
use guanxi_domain::access::Capability;
use guanxi_store::{ApiToken, Session, User};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{AppState, Lang, MAX_BODY, WebError, html, lang_of};

/// How many requests a client address, and an API token, may make: each a burst of this
/// many, refilled at this rate per minute (beyond it: 429 with `Retry-After`). Per
/// instance of the server; the sign-in throttle (in the store) is shared by all.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    pub per_address: u32,
    pub per_token: u32,
    /// The longest a request may take before its answer begins (then 503).
    pub timeout: std::time::Duration,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            per_address: 3000,
            per_token: 600,
            timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// The request limits a server holds.
pub struct Limits {
    addresses: governor::DefaultKeyedRateLimiter<String>,
    tokens: governor::DefaultKeyedRateLimiter<i64>,
    timeout: std::time::Duration,
    /// Requests seen, so that the keys are pruned once in a while, not on every request
    /// (counting a keyed limiter's keys visits every shard).
    seen: std::sync::atomic::AtomicU64,
}

impl Limits {
    pub fn new(q: Quotas) -> Limits {
        let quota = |n: u32| {
            governor::Quota::per_minute(std::num::NonZeroU32::new(n.max(1)).unwrap_or(std::num::NonZeroU32::MIN))
        };
        Limits {
            addresses: governor::RateLimiter::keyed(quota(q.per_address)),
            tokens: governor::RateLimiter::keyed(quota(q.per_token)),
            timeout: q.timeout,
            seen: Default::default(),
        }
    }

    /// The longest a request may take before its answer begins.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// Forgets the keys whose allowance is full again, so that many addresses seen once do
    /// not stay in memory.
    fn prune(&self) {
        if !self
            .seen
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(1024)
        {
            return;
        }
        if self.addresses.len() > 10_000 {
            self.addresses.retain_recent();
        }
        if self.tokens.len() > 10_000 {
            self.tokens.retain_recent();
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(Quotas::default())
    }
}

fn too_many() -> Response {
    let status =
        StatusCode::from_u16(guanxi_app::Kind::Throttled.http_status()).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut res = crate::api::error(status, "rate_limited", "too many requests: slow down".into());
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    res
}

/// The session cookie's name.
pub const COOKIE: &str = "guanxi_session";

/// The signed-in user of the request being answered, and their session.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    /// Signed in through the browser: the session (and its form token).
    pub session: Option<Session>,
    /// Or calling with an API token: what it may do.
    pub token: Option<ApiToken>,
    /// Where this request came from (the client's address), for the audit log.
    pub origin: String,
}

impl Viewer {
    /// The viewer as the audit log names them.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.user.name.clone(),
            origin: self.origin.clone(),
        }
    }
}

tokio::task_local! {
    /// The viewer while their request is answered: the page frame shows who is signed
    /// in (and their sign-out form), forms carry the session's token.
    static VIEWER: Viewer;
}

/// The viewer of the request being answered, if signed in.
pub fn viewer() -> Option<Viewer> {
    VIEWER.try_with(Clone::clone).ok()
}

/// Who the request acts as, for the audit log: the signed-in user or the token's, else
/// the machine itself (no route that writes is public but the signed events').
pub fn actor() -> Actor {
    viewer().map_or_else(Actor::cli, |v| v.actor())
}

/// The hidden form field that carries the session's form token.
pub fn csrf_field() -> Markup {
    html! {
        @if let Some(s) = viewer().and_then(|v| v.session) {
            input type="hidden" name="csrf" value=(s.csrf);
        }
    }
}

/// Routes anyone may reach.
fn public(path: &str) -> bool {
    path == "/login"
        || path == "/healthz"
        || path == "/api/v1/openapi.json"
        || path.starts_with("/r/")
        || path.starts_with("/u/")
        || path.starts_with("/hooks/")
        // Signed by the shop's secret, checked by the handler.
        || path == "/api/v1/webhooks/shopify"
        || path == "/api/v1/events"
}

/// What a route does, as far as roles are concerned (`None`: any signed-in user). Reading
/// and writing one path can differ: campaigns are read as reports, written by those who
/// run them.
pub fn capability(post: bool, path: &str) -> Option<Capability> {
    Some(match path {
        p if p.starts_with("/api/v1/campaigns") && p.ends_with("/members") => Capability::Segments,
        p if p.starts_with("/api/v1/campaigns") && post => Capability::Campaigns,
        p if p.starts_with("/api/v1/campaigns") => Capability::ReadReports,
        // Marketers create and launch; analysts read.
        p if (p == "/campaigns" || p.starts_with("/campaigns/")) && post => Capability::Campaigns,
        p if p == "/campaigns" || p.starts_with("/campaigns/") => Capability::ReadReports,
        "/" | "/reports" | "/reports.csv" | "/api/v1/reports/classes" => Capability::ReadReports,
        p if p.starts_with("/api/v1/reports/") => Capability::ReadReports,
        "/customers"
        | "/api/segment/count"
        | "/api/v1/segments/count"
        | "/api/v1/segments/members"
        | "/api/v1/profiles"
        | "/segments" => Capability::Segments,
        "/api/v1/customers" | "/api/v1/orders" | "/api/v1/customers/duplicates" | "/api/v1/reviews" => {
            Capability::ReadCustomer
        }
        "/api/v1/service-records" => Capability::Tasks,
        "/api/v1/customers/merge" => Capability::Administer,
        // Members: staff with the members capability change points and issue coupons;
        // reading them is reading the customer; the liability is a report.
        p if p.starts_with("/api/v1/customers/")
            && post
            && (p.ends_with("/points/adjustments")
                || p.ends_with("/points/redemptions")
                || p.ends_with("/coupons")) =>
        {
            Capability::Members
        }
        p if p.starts_with("/customers/") && post && (p.ends_with("/points") || p.ends_with("/coupons")) => {
            Capability::Members
        }
        "/api/v1/coupons" => Capability::ReadCustomer,
        "/api/v1/points/liability" => Capability::ReadReports,
        "/api/v1/tasks" | "/api/v1/tasks/done" => Capability::Tasks,
        p if p.starts_with("/api/v1/programs/") => Capability::Programs,
        "/customers.csv" | "/api/v1/segments/export" => Capability::ExportCustomers,
        "/programs" | "/programs/enable" | "/programs/disable" | "/programs/preview" | "/api/v1/programs" => {
            Capability::Programs
        }
        "/tasks" | "/tasks/done" => Capability::Tasks,
        "/audit" => Capability::Administer,
        p if p.starts_with("/api/v1/customers/") && (p.ends_with("/privacy-export") || p.ends_with("/erase")) => {
            Capability::Administer
        }
        p if p.starts_with("/api/v1/customers/") => Capability::ReadCustomer,
        p if p.starts_with("/customers/") && p.ends_with("/reveal") => Capability::RevealContact,
        p if p.starts_with("/customers/") => Capability::ReadCustomer,
        _ => return None,
    })
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// Where the request came from, for the audit log.
fn origin_of(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

/// Whether a state-changing request comes from this server's pages: a browser sends
/// `Origin` on every POST, and it must name the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !host.is_empty() && origin_host == host
}

fn refuse(kind: guanxi_app::Kind, path: &str, code: &str, message: &str, lang: Lang, next: &str) -> Response {
    let status = StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    if path.starts_with("/api/") {
        return crate::api::error(status, code, message.into());
    }
    let page = match status {
        StatusCode::UNAUTHORIZED => login_page(lang, next, None),
        _ => message_page(lang, &lang.t("forbidden-title"), &lang.t("forbidden")),
    };
    (status, html(page)).into_response()
}

/// Lets a request through when it may pass: see the module's docs.
pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    s.limits.prune();
    let origin = origin_of(&req);
    if s.limits.addresses.check_key(&origin).is_err() {
        return too_many();
    }
    let path = req.uri().path().to_string();
    let post = req.method() == Method::POST;
    if post && !same_origin(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-origin form refused").into_response();
    }
    if public(&path) {
        return next.run(req).await;
    }
    let lang = lang_of(req.uri().query(), req.headers());
    let here = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    // An API call names its token (`Authorization: Bearer gx_…`); a browser its session
    // cookie. A token carries no cookie, so a form token is asked of sessions only.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let now = Utc::now();
    let found = match (&bearer, cookie(req.headers())) {
        (Some(secret), _) => access::bearer(s.store.as_ref(), secret, now)
            .await
            .map(|f| f.map(|(token, user)| (None, Some(token), user))),
        (None, Some(token)) => access::session(s.store.as_ref(), token, now)
            .await
            .map(|f| f.map(|(session, user)| (Some(session), None, user))),
        (None, None) => Ok(None),
    };
    let found = match found {
        Ok(found) => found,
        Err(e) => return WebError::from(e).into_response(),
    };
    let Some((session, token, user)) = found else {
        return refuse(
            guanxi_app::Kind::Unauthenticated,
            &path,
            "unauthorized",
            "sign in first, or name a live API token",
            lang,
            &here,
        );
    };
    if let Some(t) = &token
        && s.limits.tokens.check_key(&t.id).is_err()
    {
        return too_many();
    }
    if let Some(c) = capability(post, &path)
        && (!user.role.may(c) || token.as_ref().is_some_and(|t| !t.scopes.contains(&c)))
    {
        return refuse(
            guanxi_app::Kind::Forbidden,
            &path,
            "forbidden",
            "your role (or this token's scopes) may not do this",
            lang,
            &here,
        );
    }
    let req = match (&session, post) {
        (Some(session), true) => {
            // The form token, read from the body (at most MAX_BODY, as every handler) and
            // the body handed on as it was.
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
            };
            if form_token(&bytes).as_deref() != Some(session.csrf.as_str()) {
                return (
                    StatusCode::FORBIDDEN,
                    "the form's token is missing or stale: reload the page",
                )
                    .into_response();
            }
            Request::from_parts(parts, Body::from(bytes))
        }
        _ => req,
    };
    let viewer = Viewer {
        user,
        session,
        token,
        origin,
    };
    VIEWER.scope(viewer, next.run(req)).await
}

/// The form token of a URL-encoded form body (other fields ignored; a body that is not a
/// form has none).
fn form_token(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Token {
        csrf: Option<String>,
    }
    serde_urlencoded::from_bytes::<Token>(body).ok()?.csrf
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    next: Option<String>,
}

/// Only a path of this server: never another site (`//host`, `https://…`).
fn local(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_string(),
        _ => "/".into(),
    }
}

/// `GET /login`: the sign-in form.
pub async fn login_form(Query(q): Query<LoginQuery>, headers: HeaderMap) -> Response {
    let lang = lang_of(q.lang.as_deref().map(|l| format!("lang={l}")).as_deref(), &headers);
    html(login_page(lang, &local(q.next.as_deref()), None)).into_response()
}

/// `POST /login`: signs in and sends the browser where it was going, with a new session.
pub async fn login(State(s): State<AppState>, req: Request) -> Result<Response, WebError> {
    let origin = origin_of(&req);
    let lang = lang_of(req.uri().query(), req.headers());
    let replaced = cookie(req.headers()).map(str::to_string);
    let Ok(Form(form)) = Form::<LoginForm>::from_request(req, &s).await else {
        return Ok((
            StatusCode::BAD_REQUEST,
            html(login_page(lang, "/", Some(&lang.t("login-failed")))),
        )
            .into_response());
    };
    let next = local(form.next.as_deref());
    match access::sign_in(s.store.as_ref(), &form.name, &form.password, &origin, Utc::now()).await {
        Ok(signed) => {
            // The session this browser had before is ended, not kept beside the new one.
            if let Some(old) = replaced {
                s.store.end_session(&access::token_hash(&old)).await?;
            }
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                signed.token,
                access::SESSION_HOURS * 3600
            );
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut().insert(
                header::SET_COOKIE,
                cookie.parse().expect("a cookie of hex is a header value"),
            );
            Ok(res)
        }
        Err(e @ guanxi_app::AppError::Denied { .. }) => {
            let (status, key) = if e.code() == "sign_in_throttled" {
                (StatusCode::TOO_MANY_REQUESTS, "login-throttled")
            } else {
                (StatusCode::UNAUTHORIZED, "login-failed")
            };
            Ok((status, html(login_page(lang, &next, Some(&lang.t(key))))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`: ends the session and forgets the cookie.
pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    if let (Some(token), Some(v)) = (cookie(&headers), viewer()) {
        access::sign_out(s.store.as_ref(), token, &v.actor(), Utc::now()).await?;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
            .parse()
            .expect("a static cookie"),
    );
    Ok(res)
}

fn message_page(lang: Lang, title: &str, text: &str) -> Markup {
    bare(
        lang,
        title,
        html! { p { (text) } p { a href="/login" { (lang.t("login-title")) } } },
    )
}

fn login_page(lang: Lang, next: &str, error: Option<&str>) -> Markup {
    bare(
        lang,
        &lang.t("login-title"),
        html! {
            form method="post" action={ "/login?lang=" (lang.code()) } {
                input type="hidden" name="next" value=(next);
                p { label { (lang.t("login-name")) " " input name="name" autocomplete="username" required; } }
                p { label { (lang.t("login-password")) " " input type="password" name="password" autocomplete="current-password" required; } }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                p { button type="submit" { (lang.t("login-submit")) } }
            }
        },
    )
}

/// A page outside the application's frame (no navigation before sign-in).
fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    crate::layout::page(lang, title, html! { main { h1 { (title) } (body) } })
}
