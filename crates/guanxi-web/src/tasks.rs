//! The service tasks page: what program steps asked staff to do (order care's "parcel not
//! moving for 72 hours: call the carrier"), the earliest due first, each closed with one
//! button. Closing is a POST (a link fetched by a scanner or prefetcher must not close
//! anything) and lands in the customer's audit trail.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::html;
use serde::Deserialize;

use crate::customers::encode;
use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

/// The most tasks the page lists (open ones first, the earliest due first).
const SHOWN: u32 = 500;

#[derive(Deserialize)]
pub struct Params {
    lang: Option<String>,
    /// Closed tasks too.
    all: Option<String>,
    /// The task just closed (`closed`) or found closed already (`gone`), for the notice.
    closed: Option<String>,
    gone: Option<String>,
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let all = p.all.is_some();
    let tasks = guanxi_app::tasks::list(s.store.as_ref(), all, None, SHOWN).await?;
    let tz = s.tz;
    let when = |at: DateTime<Utc>| at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M").to_string();
    let code = lang.code();
    let title = lang.t("tasks-title");
    let body = html! {
        p { (lang.t("tasks-how")) }
        @if let Some(task) = &p.closed { p role="status" { (lang.t1("tasks-closed", "task", task.clone())) } }
        @if p.gone.is_some() { p role="status" { (lang.t("tasks-gone")) } }
        p {
            @if all { a href={ "/tasks?lang=" (code) } { (lang.t("tasks-show-open")) } }
            @else { a href={ "/tasks?all=1&lang=" (code) } { (lang.t("tasks-show-all")) } }
        }
        @if tasks.is_empty() {
            p { (lang.t("tasks-none")) }
        } @else {
            @if tasks.len() == SHOWN as usize { p { (lang.t1("tasks-first", "count", SHOWN)) } }
            table {
                thead { tr {
                    th { (lang.t("col-due")) } th { (lang.t("col-customer")) } th { (lang.t("col-task")) }
                    th { (lang.t("col-program")) } th { (lang.t("col-status")) }
                } }
                tbody {
                    @for t in &tasks {
                        tr {
                            td { (when(t.due_at)) }
                            td {
                                a href={ "/customers/" (t.customer_id) "?lang=" (code) } {
                                    (t.customer_name.as_deref().unwrap_or("–"))
                                }
                                " (" (guanxi_app::customers::shown_id(&t.customer_external_id)) ")"
                            }
                            td { (t.task) }
                            td { (t.program) " · " (t.step) }
                            td {
                                @match t.done_at {
                                    Some(at) => { (lang.t1("tasks-done-at", "at", when(at))) }
                                    None => {
                                        form method="post" action="/tasks/done" {
                                            (crate::auth::csrf_field())
                                            input type="hidden" name="key" value=(t.key);
                                            input type="hidden" name="lang" value=(code);
                                            button type="submit" aria-label={ (lang.t("tasks-close")) ": " (t.task) } {
                                                (lang.t("tasks-close"))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html(frame(lang, Page::Tasks, &uri.to_string(), &title, body)).into_response())
}

#[derive(Deserialize)]
pub struct Close {
    key: String,
    lang: Option<String>,
}

/// `POST /tasks/done`: closes the task, then back to the list with a notice.
pub async fn close(State(s): State<AppState>, headers: HeaderMap, Form(f): Form<Close>) -> Result<Response, WebError> {
    let lang = lang_of(f.lang.as_deref(), &headers);
    let by = crate::auth::actor();
    let to = match guanxi_app::tasks::close(s.store.as_ref(), &f.key, &by, Utc::now()).await {
        Ok(task) => format!("/tasks?lang={}&closed={}", lang.code(), encode(&task)),
        Err(e) if e.code() == "task_unknown" => format!("/tasks?lang={}&gone=1", lang.code()),
        Err(e) => return Err(e.into()),
    };
    Ok(Redirect::to(&to).into_response())
}
