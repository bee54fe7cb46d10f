//! The programs page: every program guanxi knows (the built-ins and the shop's own), on
//! or off, with its trigger and steps, and what each step did — messages sent, delivered,
//! clicked, dropped, failed, conversions within 7 days, actions.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use guanxi_domain::program::{Action, Program, Trigger};
use guanxi_engage::stats::StepStats;
use maud::html;
use serde::Deserialize;

use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

#[derive(Deserialize)]
pub struct Params {
    lang: Option<String>,
}

/// An order event as definitions write it (`created-unpaid`).
fn event(e: guanxi_domain::program::OrderEvent) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn trigger(t: &Trigger) -> String {
    match t {
        Trigger::Order(e) => format!("order: {}", event(*e)),
        Trigger::Became { kind, class } => format!("{kind} → {class}"),
        Trigger::Date(d) => format!("date: {d}"),
        Trigger::Segment(s) => format!("segment: {s}"),
        Trigger::Every(w) => format!("every {w}"),
    }
}

fn action(a: &Action) -> String {
    match a {
        Action::Send { send, template } => format!("{send}: {template}"),
        Action::AddTag { add_tag } => format!("+ {add_tag}"),
        Action::RemoveTag { remove_tag } => format!("− {remove_tag}"),
        Action::Coupon { coupon } => format!("coupon {coupon}"),
        Action::Points { points } => format!("{points} points"),
        Action::Task { task } => format!("task: {task}"),
    }
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let stored = s.store.programs().await?;
    let stats = guanxi_engage::stats::step_stats(s.store.as_ref(), None, chrono::Duration::days(7))
        .await
        .map_err(|e| WebError::Engage(e.to_string()))?;
    // The built-ins, each replaced by the store's version when enabled once; then the
    // shop's own programs.
    let mut programs: Vec<(Program, Option<&guanxi_store::ProgramState>)> = guanxi_domain::program::builtin()
        .into_iter()
        .map(|p| (p, None))
        .collect();
    for state in &stored {
        let Ok(program) = Program::parse(&state.definition, &state.name) else {
            continue;
        };
        match programs.iter_mut().find(|(p, _)| p.name == state.name) {
            Some(slot) => *slot = (program, Some(state)),
            None => programs.push((program, Some(state))),
        }
    }
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
    ];
    let body = html! {
        p { (lang.t("programs-how")) }
        @for (program, state) in &programs {
            section aria-labelledby={ "p-" (program.name) } {
                h2 id={ "p-" (program.name) } { (program.title) }
                p {
                    @match state.filter(|s| s.enabled) {
                        Some(st) => { strong { (lang.t("programs-on")) } " " (since(st)) }
                        None => { span { (lang.t("programs-off")) } }
                    }
                    " · " code { (program.name) } " · " (trigger(&program.trigger))
                }
                table {
                    thead { tr {
                        th { (lang.t("col-step")) } th { (lang.t("col-wait")) } th { (lang.t("col-action")) }
                        @for c in cols { th.num { (lang.t(c)) } }
                    } }
                    tbody {
                        @for step in &program.steps {
                            @let n = of(&program.name, &step.name);
                            tr {
                                td { (step.name) }
                                td {
                                    (step.after)
                                    @if let Some(e) = step.on { " ← " (event(e)) }
                                }
                                td { (action(&step.action)) }
                                @for v in [n.sent, n.delivered, n.clicked, n.dropped, n.failed, n.converted, n.actions] {
                                    td.num { (v) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html(frame(lang, Page::Programs, &uri.to_string(), &title, body)).into_response())
}
