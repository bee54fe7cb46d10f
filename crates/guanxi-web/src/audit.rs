//! The audit log page (admins): who did what, when, from where — users added, sign-ins
//! and failures, exports, merges, program changes, closed tasks — from a day on.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use maud::html;
use serde::Deserialize;

use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

/// The most lines the page shows.
const SHOWN: u32 = 1000;

#[derive(Deserialize)]
pub struct Params {
    lang: Option<String>,
    /// From the start of this day (shop time); the last seven days by default.
    since: Option<String>,
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let here = uri.path_and_query().map_or("/audit", |p| p.as_str()).to_string();
    let title = lang.t("audit-title");
    let since = match p.since.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(d) => match guanxi_domain::parse_date(d).ok().and_then(|day| s.tz.start_of(day)) {
            Some(t) => t,
            None => {
                let body = html! { p.error role="alert" { "since: " (lang.t("audit-bad-date")) } };
                return Ok((
                    StatusCode::BAD_REQUEST,
                    html(frame(lang, Page::Audit, &here, &title, body)),
                )
                    .into_response());
            }
        },
        None => chrono::Utc::now() - Duration::days(7),
    };
    let log = guanxi_app::access::audit_log(s.store.as_ref(), Some(since), SHOWN).await?;
    let tz = s.tz;
    let body = html! {
        form method="get" action="/audit" {
            input type="hidden" name="lang" value=(lang.code());
            label { (lang.t("audit-since")) " " input type="date" name="since" value=(since.with_timezone(&tz.0).format("%Y-%m-%d")); }
            " " button type="submit" { (lang.t("audit-show")) }
        }
        @if log.is_empty() {
            p { (lang.t("audit-empty")) }
        } @else {
            table {
                thead { tr {
                    th { (lang.t("audit-at")) } th { (lang.t("audit-actor")) } th { (lang.t("audit-action")) }
                    th { (lang.t("audit-subject")) } th { (lang.t("audit-origin")) } th { (lang.t("audit-detail")) }
                } }
                tbody {
                    @for e in &log {
                        tr {
                            td { (e.at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M:%S")) }
                            td { (e.actor) } td { code { (e.action) } } td { (e.subject) } td { (e.origin) } td { (e.detail) }
                        }
                    }
                }
            }
        }
    };
    Ok(html(frame(lang, Page::Audit, &here, &title, body)).into_response())
}
