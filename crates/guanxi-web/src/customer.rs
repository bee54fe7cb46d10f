//! Customer 360: who they are (contacts masked), consents, tags, every class with why,
//! the forecast, and how their classes changed.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use guanxi_domain::masked;
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

#[derive(Debug, Deserialize)]
pub struct Params {
    lang: Option<String>,
}

/// The class kinds whose explanations the page lists, in the order shown.
const EXPLAINED: [&str; 5] = ["relationship", "activity", "lifecycle", "quadrant", "pricing"];

pub async fn show(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let here = uri.to_string();
    let Some(c) = s.store.customer_by_id(id).await? else {
        let title = lang.t("not-found");
        let page = frame(lang, Page::Customers, &here, &title, html! { p { (title) } });
        return Ok((StatusCode::NOT_FOUND, html(page)).into_response());
    };
    let profile: Option<Value> = match s.store.latest_build().await? {
        Some(build) => s
            .lake
            .profile_detail(build.id, id)
            .map_err(|e| WebError::Lake(e.to_string()))?
            .and_then(|d| serde_json::from_str(&d).ok()),
        None => None,
    };
    let transitions = s.store.customer_transitions(id).await?;
    let title = c
        .name
        .clone()
        .unwrap_or_else(|| format!("{}:{}", c.key.source, c.key.external_id));
    let money = |v: &Value| format!("¥{:.2}", v.as_i64().unwrap_or_default() as f64 / 100.0);
    let body = html! {
        p { (c.key.source) ":" (c.key.external_id) " · #" (id) }
        section aria-labelledby="contacts" {
            h2 #contacts { (lang.t("section-contacts")) }
            dl {
                @if let Some(m) = &c.mobile { dt { (lang.t("field-mobile")) } dd { (masked(&m.raw)) } }
                @if let Some(e) = &c.email { dt { (lang.t("field-email")) } dd { (masked(&e.raw)) } }
                @if let Some(w) = &c.wechat { dt { (lang.t("field-wechat")) } dd { (masked(w)) } }
                @if let (Some(pr), Some(ci)) = (&c.province, &c.city) { dt { (lang.t("field-region")) } dd { (pr) " " (ci) } }
                @for consent in &c.consents {
                    dt { (lang.t("field-consent")) " " (consent.channel) }
                    dd { (consent.state) " (" (consent.recorded_at.date_naive()) ")" }
                }
                @if !c.tags.is_empty() { dt { (lang.t("field-tags")) } dd { (c.tags.join(", ")) } }
            }
        }
        @match &profile {
            None => p { (lang.t("no-build")) },
            Some(p) => {
                section aria-labelledby="value" {
                    h2 #value { (lang.t("section-value")) }
                    @let m = &p["measures"];
                    ul.kpis {
                        li { span.label { (lang.t("kpi-paid-orders")) } span.value { (m["paid_orders"]) } }
                        li { span.label { (lang.t("col-paid")) } span.value { (money(&m["paid_amount"])) } }
                        li { span.label { (lang.t("col-profit")) } span.value { (money(&m["profit"])) } }
                        @let f = &p["forecast"];
                        @if let Some(alive) = f["p_alive"].as_f64() {
                            li { span.label { "P(alive)" } span.value { (format!("{alive:.2}")) } }
                            li { span.label { (lang.t("kpi-clv")) } span.value { (f["clv"].as_f64().map_or("–".into(), |v| format!("¥{v:.2}"))) } }
                        }
                    }
                }
                section aria-labelledby="classes" {
                    h2 #classes { (lang.t("section-classes")) }
                    ul {
                        @for kind in EXPLAINED {
                            @if let Some(why) = p["classes"][kind]["why"].as_str() {
                                li { strong { (lang.class(kind, p["classes"][kind]["class"].as_str().unwrap_or_default())) } " — " (why) }
                            }
                        }
                        @if let Some(why) = p["tier"]["why"].as_str() {
                            li { strong { (lang.class("tier", p["tier"]["class"].as_str().unwrap_or_default())) } " — " (why) }
                        }
                        @if let Some(why) = p["rfm"]["why"].as_str() { li { "RFM — " (why) } }
                    }
                }
            }
        }
        @if !transitions.is_empty() {
            section aria-labelledby="changes" {
                h2 #changes { (lang.t("section-changes")) }
                table {
                    tbody {
                        @for t in &transitions {
                            tr {
                                td { (t.as_of.date_naive()) }
                                td { (t.kind) }
                                td { (t.from.as_deref().map_or("–".to_string(), |c| lang.class(&t.kind, c))) " → "
                                     (t.to.as_deref().map_or("–".to_string(), |c| lang.class(&t.kind, c))) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html(frame(lang, Page::Customers, &here, &title, body)).into_response())
}
