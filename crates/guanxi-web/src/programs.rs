//! The programs page: every program guanxi knows (the built-ins and the shop's own), on
//! or off, with its trigger and steps, and what each step did — messages sent, delivered,
//! clicked, dropped, failed, conversions within 7 days, actions.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_engage::stats::StepStats;
use maud::html;
use serde::Deserialize;

use crate::layout::{Page, frame};
use crate::{AppState, Lang, WebError, html, lang_of};

#[derive(Deserialize)]
pub struct Params {
    lang: Option<String>,
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let stats = guanxi_app::programs::stats(s.store.as_ref(), None, 7).await?;
    let programs = guanxi_engage::schedule::catalogue(s.store.as_ref())
        .await
        .map_err(|e| WebError::Engage(e.to_string()))?;
    let of = |program: &str, step: &str| -> StepStats {
        stats
            .iter()
            .find(|s| s.program == program && s.step == step)
            .cloned()
            .unwrap_or_default()
    };
    let tz = s.tz;
    let since = |st: &guanxi_store::ProgramState| {
        st.since
            .map(|t| t.with_timezone(&tz.0).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let title = lang.t("programs-title");
    let cols = [
        "col-sent",
        "col-delivered",
        "col-clicked",
        "col-dropped",
        "col-failed",
        "col-converted",
        "col-actions",
        "col-held",
    ];
    let health = guanxi_engage::Health::read(s.store.as_ref())
        .await
        .map_err(|e| WebError::Engage(e.to_string()))?;
    let body = html! {
        p { (lang.t("programs-how")) }
        @for p in &health.programs {
            p .error role="alert" { (lang.t1("programs-skipped", "name", p.program.clone())) " " (p.error) }
        }
        @if let Some(stop) = &health.last_stop {
            p .error role="alert" {
                (lang.t1("programs-engine-stopped", "time", stop.at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M").to_string()))
                " " (stop.error)
            }
        }
        @for known in &programs {
            @let program = &known.program;
            section aria-labelledby={ "p-" (program.name) } {
                h2 id={ "p-" (program.name) } { (program.title) }
                @let on = known.state.as_ref().is_some_and(|s| s.enabled);
                p {
                    @match known.state.as_ref().filter(|s| s.enabled) {
                        Some(st) => { strong { (lang.t("programs-on")) } " " (since(st)) }
                        None => { span { (lang.t("programs-off")) } }
                    }
                    " · " code { (program.name) } " · " (program.trigger)
                }
                form method="post" action={ "/programs/" (if on { "disable" } else { "enable" }) } {
                    (crate::auth::csrf_field())
                    input type="hidden" name="name" value=(program.name);
                    input type="hidden" name="lang" value=(lang.code());
                    button type="submit" { (lang.t(if on { "programs-disable" } else { "programs-enable" })) }
                }
                table {
                    thead { tr {
                        th { (lang.t("col-step")) } th { (lang.t("col-wait")) } th { (lang.t("col-action")) }
                        @for c in cols { th.num { (lang.t(c)) } }
                        th.num { (lang.t("col-lift")) }
                    } }
                    tbody {
                        @for step in &program.steps {
                            @let n = of(&program.name, &step.name);
                            tr {
                                td { (step.name) }
                                td {
                                    (step.after)
                                    @if let Some(e) = step.on { " ← " (e.name()) }
                                }
                                td {
                                    (step.action)
                                    @if matches!(step.action, guanxi_domain::program::Action::Send { .. }) {
                                        form.preview method="get" action="/programs/preview" {
                                            input type="hidden" name="program" value=(program.name);
                                            input type="hidden" name="step" value=(step.name);
                                            input type="hidden" name="lang" value=(lang.code());
                                            label { (lang.t("programs-preview-for")) " "
                                                input type="number" name="customer" min="1" required size="8"; }
                                            " " button type="submit" { (lang.t("programs-preview")) }
                                        }
                                    }
                                }
                                @for v in [n.sent, n.delivered, n.clicked, n.dropped, n.failed, n.converted, n.actions, n.held] {
                                    td.num { (v) }
                                }
                                td.num.lift { @match n.lift.as_ref() {
                                    Some(l) => { (crate::campaigns::interval(l.conversion_lift, 100.0)) }
                                    None => { "—" }
                                } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html(frame(lang, Page::Programs, &uri.to_string(), &title, body)).into_response())
}

#[derive(Deserialize)]
pub struct Switch {
    name: String,
    lang: Option<String>,
}

/// `POST /programs/enable`: turns a built-in or stored program on, its runs starting now
/// (audited under the signed-in user's name), and back to the programs page.
pub async fn enable(State(s): State<AppState>, Form(f): Form<Switch>) -> Result<Response, WebError> {
    let Some(by) = crate::auth::viewer().map(|v| v.actor()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let Some((program, definition)) = guanxi_app::programs::find(s.store.as_ref(), &f.name).await? else {
        return Err(guanxi_app::programs::unknown(&f.name).into());
    };
    let coupons = &s.membership.coupons;
    guanxi_app::programs::enable(s.store.as_ref(), &program, definition, coupons, chrono::Utc::now(), &by).await?;
    Ok(back(&f))
}

/// `POST /programs/disable`: turns a stored program off (audited), and back.
pub async fn disable(State(s): State<AppState>, Form(f): Form<Switch>) -> Result<Response, WebError> {
    let Some(by) = crate::auth::viewer().map(|v| v.actor()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    guanxi_app::programs::disable(s.store.as_ref(), &f.name, &by).await?;
    Ok(back(&f))
}

fn back(f: &Switch) -> Response {
    // Only a language this server speaks goes back into the address.
    let lang = Lang::ALL
        .into_iter()
        .find(|l| Some(l.code()) == f.lang.as_deref())
        .unwrap_or(Lang::En);
    Redirect::to(&format!(
        "/programs?lang={}#p-{}",
        lang.code(),
        crate::customers::encode(&f.name)
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    program: String,
    step: String,
    /// The customer's number, as the customers list shows it.
    customer: String,
    lang: Option<String>,
}

/// `GET /programs/preview?program=…&step=…&customer=…`: what a step would send that
/// customer, rendered as the worker would (nothing is sent or recorded).
pub async fn preview(
    State(s): State<AppState>,
    Query(q): Query<PreviewQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(q.lang.as_deref(), &headers);
    let title = lang.t("programs-preview");
    let page = |status: StatusCode, body: maud::Markup| {
        (
            status,
            html(frame(lang, Page::Programs, &uri.to_string(), &title, body)),
        )
            .into_response()
    };
    let Ok(customer) = q.customer.trim().trim_start_matches('#').parse::<i64>() else {
        let body = html! { p.error role="alert" { "customer: " (lang.t("programs-preview-bad-customer")) } };
        return Ok(page(StatusCode::BAD_REQUEST, body));
    };
    match guanxi_app::programs::preview(s.store.as_ref(), &s.writing, &q.program, &q.step, customer).await {
        Ok(p) => Ok(page(
            StatusCode::OK,
            html! {
                p { code { (p.program) } " · " (p.step) " · " (p.channel) " · " (p.template) " · "
                    a href={ "/customers/" (customer) "?lang=" (lang.code()) } { "#" (customer) } }
                @if !p.subject.is_empty() { h2 { (p.subject) } }
                pre.message { (p.text) }
                p { (lang.t("programs-preview-note")) }
                p { a href={ "/programs?lang=" (lang.code()) } { (lang.t("nav-programs")) } }
            },
        )),
        Err(e) if e.is_bad_input() => Ok(page(
            StatusCode::BAD_REQUEST,
            html! { p.error role="alert" { (e.to_string()) } },
        )),
        Err(e) => Err(e.into()),
    }
}
