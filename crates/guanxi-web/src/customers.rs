//! The customers list: everyone profiled, or those a segment expression selects, a page
//! at a time by id (constant time at any size), with the count.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, Uri};
use axum::response::{Html, IntoResponse, Response};
use guanxi_domain::segment::{Expr, expand, parse};
use maud::{PreEscaped, html};
use serde::Deserialize;
use serde_json::json;

use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

const PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct Params {
    lang: Option<String>,
    /// A segment expression; everyone profiled when empty.
    q: Option<String>,
    /// The last id of the previous page.
    after: Option<i64>,
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let title = lang.t("customers-title");
    let here = uri.to_string();
    let Some(build) = s.store.latest_build().await? else {
        return Ok(html(frame(
            lang,
            Page::Customers,
            &here,
            &title,
            html! { p { (lang.t("no-build")) } },
        )));
    };
    let text = p.q.clone().unwrap_or_default();
    let expr = resolve(&s, &text).await?;
    let (count, members, error) = match &expr {
        Ok(e) => {
            let (count, members) = tokio::try_join!(
                s.store.segment_count(e, build.as_of),
                s.store.segment_members(e, build.as_of, p.after.unwrap_or(0), PAGE)
            )?;
            (Some(count), members, None)
        }
        Err(why) => (None, Vec::new(), Some(why.clone())),
    };
    let next = (members.len() == PAGE as usize).then(|| {
        let last = members.last().map_or(0, |m| m.id);
        format!("/customers?lang={}&q={}&after={last}", lang.code(), encode(&text))
    });
    let body = html! {
        form method="get" action="/customers" {
            input type="hidden" name="lang" value=(lang.code());
            label for="q" { (lang.t("customers-filter")) } " "
            input #q type="text" name="q" value=(text) placeholder=(lang.t("customers-filter-hint"))
                aria-invalid=[error.as_ref().map(|_| "true")] aria-describedby=[error.as_ref().map(|_| "q-error")];
            " "
            button type="submit" { (lang.t("customers-apply")) }
            @if let Some(why) = &error {
                p #q-error .error role="alert" { (lang.t("filter-error")) "\n" (why) }
            }
        }
        p #live-count aria-live="polite" data-label=(lang.t1("customers-count", "count", "{n}")) {
            @if let Some(n) = count { (lang.t1("customers-count", "count", n)) }
        }
        script { (PreEscaped(LIVE_COUNT)) }
        @if members.is_empty() {
            @if error.is_none() { p { (lang.t("customers-none")) } }
        } @else {
            table {
                thead { tr { th { (lang.t("col-id")) } th { (lang.t("col-name")) } th { (lang.t("col-source")) } } }
                tbody {
                    @for m in &members {
                        tr {
                            td { (m.id) }
                            td { a href=(format!("/customers/{}?lang={}", m.id, lang.code())) { (m.name.as_deref().unwrap_or("–")) } }
                            td { (m.source) ":" (m.external_id) }
                        }
                    }
                }
            }
        }
        @if let Some(href) = next {
            p { a href=(href) rel="next" { (lang.t("customers-next")) } }
        }
    };
    Ok(html(frame(lang, Page::Customers, &here, &title, body)))
}

/// The expression of the filter `text` (saved segments inlined), or the located error
/// as text; everyone profiled when `text` is blank.
async fn resolve(s: &AppState, text: &str) -> Result<Result<Expr, String>, WebError> {
    if text.trim().is_empty() {
        return Ok(parse("paid_orders >= 0").map_err(|e| e.render("", "")));
    }
    let saved: HashMap<String, String> = s
        .store
        .segments()
        .await?
        .into_iter()
        .map(|g| (g.name, g.expression))
        .collect();
    Ok(parse(text)
        .map_err(|e| e.render(text, "q"))
        .and_then(|e| expand(&e, &|name: &str| saved.get(name).and_then(|t| parse(t).ok())).map_err(|e| e.to_string())))
}

#[derive(Debug, Deserialize)]
pub struct CountParams {
    q: Option<String>,
}

/// `GET /api/segment/count?q=…`: `{"customers": N}`, or 400 with `{"error": …}` (the
/// located parse error): the customers page's live count as the filter is typed.
pub async fn count(State(s): State<AppState>, Query(p): Query<CountParams>) -> Result<Response, WebError> {
    let Some(build) = s.store.latest_build().await? else {
        return Ok((StatusCode::CONFLICT, Json(json!({ "error": "no profile build yet" }))).into_response());
    };
    Ok(match resolve(&s, p.q.as_deref().unwrap_or_default()).await? {
        Ok(e) => Json(json!({ "customers": s.store.segment_count(&e, build.as_of).await? })).into_response(),
        Err(why) => (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response(),
    })
}

/// Updates the count as the filter is typed (debounced): progressive — without script
/// the form's submit does the same.
const LIVE_COUNT: &str = r#"
(() => {
  const q = document.getElementById('q'), out = document.getElementById('live-count');
  if (!q || !out) return;
  let timer;
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const r = await fetch('/api/segment/count?q=' + encodeURIComponent(q.value));
      const body = await r.json();
      out.textContent = r.ok ? out.dataset.label.replace('{n}', body.customers) : body.error;
    }, 300);
  });
})();
"#;

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
