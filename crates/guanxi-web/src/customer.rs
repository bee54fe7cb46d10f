//! Customer 360: who they are (contacts masked), consents, tags, open service tasks, every
//! class with why, the forecast, and how their classes changed.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use guanxi_app::customers::shown_id;
use guanxi_domain::masked;
use guanxi_domain::profile::ClassKind;
use maud::html;
use serde::Deserialize;

use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

#[derive(Debug, Deserialize)]
pub struct Params {
    lang: Option<String>,
}

/// The most records of each kind the page lists (newest first).
const HISTORY: u32 = 100;

/// The most open tasks the page lists (the earliest due first; the Tasks page has all).
const TASKS: u32 = 20;

pub async fn show(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let here = uri.to_string();
    let limits = guanxi_app::customers::Limits {
        history: HISTORY,
        tasks: TASKS,
    };
    let Some(view) = guanxi_app::customers::view(s.shop(), id, limits).await? else {
        let title = lang.t("not-found");
        let page = frame(lang, Page::Customers, &here, &title, html! { p { (title) } });
        return Ok((StatusCode::NOT_FOUND, html(page)).into_response());
    };
    let guanxi_app::customers::View {
        customer: c,
        profile,
        transitions,
        history,
        open_tasks: tasks,
        ..
    } = view;
    let title = c
        .name
        .clone()
        .unwrap_or_else(|| format!("{}:{}", c.key.source, shown_id(&c.key.external_id)));
    let day = |t: &chrono::DateTime<chrono::Utc>| t.with_timezone(&s.tz.0).format("%Y-%m-%d %H:%M").to_string();
    let stars = |r: Option<i64>| r.map_or("–".to_string(), |r| r.to_string());
    let may_reveal =
        crate::auth::viewer().is_some_and(|v| v.user.role.may(guanxi_domain::access::Capability::RevealContact));
    let membership = crate::membership::section(&s, lang, id, None).await?;
    let body = html! {
        p { (c.key.source) ":" (shown_id(&c.key.external_id)) " · #" (id) }
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
            @if may_reveal && (c.mobile.is_some() || c.email.is_some() || c.wechat.is_some()) {
                form method="post" action={ "/customers/" (id) "/reveal" } {
                    (crate::auth::csrf_field())
                    input type="hidden" name="lang" value=(lang.code());
                    label { (lang.t("reveal-reason")) " "
                        input type="text" name="reason" required minlength="3" maxlength="200"; }
                    " " button type="submit" { (lang.t("reveal-button")) }
                }
            }
        }
        @if !tasks.is_empty() {
            section aria-labelledby="tasks" {
                h2 #tasks { (lang.t("section-open-tasks")) }
                ul {
                    @for t in &tasks {
                        li { (day(&t.due_at)) " · " (t.task) " (" (t.program) ") · "
                             a href={ "/tasks?lang=" (lang.code()) } { (lang.t("nav-tasks")) } }
                    }
                }
            }
        }
        (membership)
        @match &profile {
            None => p { (lang.t("no-build")) },
            Some(p) => {
                section aria-labelledby="value" {
                    h2 #value { (lang.t("section-value")) }
                    @let m = &p.measures;
                    ul.kpis {
                        li { span.label { (lang.t("kpi-paid-orders")) } span.value { (m.paid_orders) } }
                        li { span.label { (lang.t("col-paid")) } span.value { (yuan(m.paid_amount.0)) } }
                        li { span.label { (lang.t("col-profit")) } span.value { (yuan(m.profit.0)) } }
                        @if let Some(f) = &p.forecast {
                            li { span.label { "P(alive)" } span.value { (format!("{:.2}", f.p_alive)) } }
                            li { span.label { (lang.t("kpi-clv")) } span.value { (f.clv.map_or("–".into(), |v| yuan((v * 100.0).round() as i64))) } }
                        }
                    }
                }
                section aria-labelledby="classes" {
                    h2 #classes { (lang.t("section-classes")) }
                    ul {
                        @for kind in ClassKind::ALL.iter().filter(|k| k.explained_by_rule()) {
                            @if let Some((class, why)) = p.classes.explained(*kind) {
                                li { strong { (lang.class(kind.as_str(), class)) } " — " (why) }
                            }
                        }
                        @if let Some(t) = &p.tier {
                            li { strong { (lang.class("tier", t.class.as_str())) } " — " (t.why) }
                        }
                        @if let Some(r) = &p.rfm { li { "RFM — " (r.why) } }
                    }
                }
            }
        }
        section aria-labelledby="orders" {
            h2 #orders { (lang.t("section-orders")) " (" (history.orders.len()) ")" }
            @if history.orders.is_empty() { p { (lang.t("none-yet")) } } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("col-date")) } th scope="col" { (lang.t("col-order")) } th scope="col" { (lang.t("col-status")) }
                        th scope="col" { (lang.t("col-items")) } th.num scope="col" { (lang.t("col-paid")) } th.num scope="col" { (lang.t("col-refund")) }
                    } }
                    tbody { @for o in &history.orders { tr {
                        td { (day(&o.created_at)) } td { (o.external_id) } td { (o.status) } td { (o.items) }
                        td.num { (yuan(o.paid_cents)) } td.num { @if o.refund_cents > 0 { (yuan(o.refund_cents)) } }
                    } } }
                }
            }
        }
        section aria-labelledby="service" {
            h2 #service { (lang.t("section-service")) }
            @if history.service.is_empty() { p { (lang.t("none-yet")) } } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("col-date")) } th scope="col" { (lang.t("col-kind")) } th scope="col" { (lang.t("col-status")) }
                        th scope="col" { (lang.t("col-satisfaction")) } th scope="col" { (lang.t("col-note")) }
                    } }
                    tbody { @for r in &history.service { tr {
                        td { (day(&r.opened_at)) } td { (r.kind) } td { (r.status) } td { (stars(r.satisfaction)) } td { (r.note.as_deref().unwrap_or_default()) }
                    } } }
                }
            }
        }
        section aria-labelledby="reviews" {
            h2 #reviews { (lang.t("section-reviews")) }
            @if history.reviews.is_empty() { p { (lang.t("none-yet")) } } @else {
                table {
                    thead { tr { th scope="col" { (lang.t("col-date")) } th scope="col" { (lang.t("col-ratings")) } th scope="col" { (lang.t("col-text")) } } }
                    tbody { @for r in &history.reviews { tr {
                        td { (day(&r.created_at)) }
                        td { (stars(r.item_rating)) " / " (stars(r.service_rating)) " / " (stars(r.logistics_rating)) }
                        td { (r.text.as_deref().unwrap_or_default()) }
                    } } }
                }
            }
        }
        section aria-labelledby="messages" {
            h2 #messages { (lang.t("section-messages")) }
            @if history.messages.is_empty() { p { (lang.t("none-yet")) } } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("col-date")) } th scope="col" { (lang.t("col-channel")) } th scope="col" { (lang.t("col-program")) } th scope="col" { (lang.t("col-status")) }
                    } }
                    tbody { @for m in &history.messages { tr {
                        td { (day(&m.queued_at)) } td { (m.channel) }
                        td { (m.program.as_deref().or(m.campaign.as_deref()).unwrap_or_default()) " " (m.template.as_deref().unwrap_or_default()) }
                        td { (m.status) }
                    } } }
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

/// Cents as yuan with two decimals.
fn yuan(cents: i64) -> String {
    crate::format::yuan(cents)
}

#[derive(Deserialize)]
pub struct RevealForm {
    reason: String,
    lang: Option<String>,
}

/// `POST /customers/{id}/reveal`: one customer's contacts unmasked, for a reason that goes
/// to the audit log with who asked and from where (agents and admins). Never cached.
pub async fn reveal(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    uri: Uri,
    headers: HeaderMap,
    axum::Form(f): axum::Form<RevealForm>,
) -> Result<Response, WebError> {
    let lang = lang_of(f.lang.as_deref(), &headers);
    let here = uri.to_string();
    let title = lang.t("reveal-title");
    let reason = f.reason.trim();
    let n = reason.chars().count();
    if !(3..=200).contains(&n) {
        let body = html! { p.error role="alert" { "reason: " (lang.t("reveal-bad-reason")) } };
        return Ok((
            StatusCode::BAD_REQUEST,
            html(frame(lang, Page::Customers, &here, &title, body)),
        )
            .into_response());
    }
    let Some(c) = s.store.customer_by_id(id).await? else {
        let title = lang.t("not-found");
        let page = frame(lang, Page::Customers, &here, &title, html! { p { (title) } });
        return Ok((StatusCode::NOT_FOUND, html(page)).into_response());
    };
    let Some(viewer) = crate::auth::viewer() else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    guanxi_app::access::record(
        s.store.as_ref(),
        &viewer.actor(),
        "contact.reveal",
        format!("customer:{id}"),
        reason.to_string(),
    )
    .await?;
    let body = html! {
        p { (c.key.source) ":" (c.key.external_id) " · #" (id) }
        dl {
            @if let Some(m) = &c.mobile { dt { (lang.t("field-mobile")) } dd { (m.raw) } }
            @if let Some(e) = &c.email { dt { (lang.t("field-email")) } dd { (e.raw) } }
            @if let Some(w) = &c.wechat { dt { (lang.t("field-wechat")) } dd { (w) } }
        }
        p { (lang.t("reveal-note")) }
        p { a href={ "/customers/" (id) "?lang=" (lang.code()) } { (lang.t("reveal-back")) } }
    };
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        html(frame(lang, Page::Customers, &here, &title, body)),
    )
        .into_response())
}
