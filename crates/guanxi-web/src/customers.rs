//! The customers list: everyone profiled, or those a segment expression selects, a page
//! at a time by id (constant time at any size), with the count; each with their value,
//! relationship type, tier and last order from the current build's columns held in
//! memory, which also sort a filter over profiles by value, profit or recency.

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_domain::segment::{Attr, Expr, SaveError, class_kinds, parse};
use guanxi_store::segment::ResolveError;
use guanxi_store::{ProfileColumns, Search, SegmentMember};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::json;

use crate::layout::{Page, frame, no_build};
use crate::{AppState, Lang, WebError, html, lang_of};

const PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct Params {
    lang: Option<String>,
    /// A name, mobile number, email, external id or guanxi id to look up.
    s: Option<String>,
    /// The last id of the previous page.
    after: Option<i64>,
    /// The name the filter was just saved as.
    saved: Option<String>,
    /// Order by `value` (paid, highest first), `profit` (highest first) or `recency` (the
    /// latest buyer first); by id when absent.
    sort: Option<String>,
    /// The page of a sorted list (from 0).
    page: Option<u32>,
}

/// A sort the list offers: the parameter's value, the profile column, highest first.
const SORTS: [(&str, Attr, bool); 3] = [
    ("value", Attr::PaidAmount, true),
    ("profit", Attr::Profit, true),
    ("recency", Attr::RecencyDays, false),
];

/// The filter as the form sends it: a segment expression and a class per kind chosen
/// from the lists; together, one expression (`q and kind = 'class' …`).
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// A segment expression; everyone profiled when empty.
    q: Option<String>,
    relationship: Option<String>,
    activity: Option<String>,
    lifecycle: Option<String>,
    quadrant: Option<String>,
    pricing: Option<String>,
    tier: Option<String>,
    rfm8: Option<String>,
    rfm11: Option<String>,
}

impl Filter {
    /// A filter of one expression (or a saved segment's name), no class chosen.
    pub(crate) fn of_expression(q: Option<String>) -> Filter {
        Filter { q, ..Filter::default() }
    }

    /// The class chosen for `kind`, if any.
    fn chosen(&self, kind: &str) -> Option<&str> {
        let v = match kind {
            "relationship" => &self.relationship,
            "activity" => &self.activity,
            "lifecycle" => &self.lifecycle,
            "quadrant" => &self.quadrant,
            "pricing" => &self.pricing,
            "tier" => &self.tier,
            "rfm8" => &self.rfm8,
            "rfm11" => &self.rfm11,
            _ => &None,
        };
        v.as_deref().filter(|c| !c.is_empty())
    }

    /// The whole filter as one expression's text; blank when nothing is chosen. A class
    /// that is not one of its kind's fails in the parser, located, like a typed one.
    fn text(&self) -> String {
        let typed = self.q.as_deref().unwrap_or_default().trim();
        let mut parts: Vec<String> = Vec::new();
        if !typed.is_empty() {
            parts.push(if class_kinds().any(|(k, _)| self.chosen(k).is_some()) {
                format!("({typed})")
            } else {
                typed.to_string()
            });
        }
        for (kind, _) in class_kinds() {
            if let Some(class) = self.chosen(kind) {
                parts.push(format!("{kind} = '{}'", class.replace('\'', "''")));
            }
        }
        parts.join(" and ")
    }
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    Query(filter): Query<Filter>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let title = lang.t("customers-title");
    let here = uri.to_string();
    let Some(build) = s.store.latest_build().await? else {
        return Ok(html(no_build(lang, Page::Customers, &here, &title)).into_response());
    };
    let search = p.s.as_deref().and_then(Search::parse);
    let text = filter.text();
    let expr = resolve(&s, &text).await?;
    // The current build's columns, held in memory: they give each listed customer's
    // value and classes, and sort a filter over profile columns alone.
    let columns = s.counts.of(s.store.as_ref(), &build).await?;
    let sort = p
        .sort
        .as_deref()
        .and_then(|v| SORTS.iter().find(|(name, _, _)| *name == v));
    let page = p.page.unwrap_or(0);
    let mut sorted = false;
    let (count, members, error) = match (&search, &expr) {
        (Some(found), _) => (None, s.store.search_customers(found, PAGE).await?, None),
        (None, Ok(e)) => {
            let ranked = match (sort, &columns) {
                (Some((_, by, desc)), Some(c)) if ProfileColumns::answers(e) => c.ranked(e, *by, *desc),
                _ => None,
            };
            match ranked {
                Some(ids) => {
                    sorted = true;
                    let count = ids.len() as u64;
                    let start = (page as usize).saturating_mul(PAGE as usize).min(ids.len());
                    let end = (start + PAGE as usize).min(ids.len());
                    let mut members = Vec::with_capacity(end - start);
                    for id in &ids[start..end] {
                        if let Some(c) = s.store.customer_by_id(*id).await? {
                            members.push(SegmentMember {
                                id: *id,
                                source: c.key.source.to_string(),
                                external_id: c.key.external_id,
                                name: c.name,
                            });
                        }
                    }
                    (Some(count), members, None)
                }
                None => {
                    let (count, members) = tokio::try_join!(
                        crate::counts::count(&s, e, &build),
                        s.store.segment_members(e, build.as_of, p.after.unwrap_or(0), PAGE)
                    )?;
                    (Some(count), members, None)
                }
            }
        }
        (None, Err(why)) => (None, Vec::new(), Some(why.clone())),
    };
    let listed = columns
        .as_ref()
        .map(|c| c.listed(&members.iter().map(|m| m.id).collect::<Vec<_>>()))
        .unwrap_or_default();
    let base = format!("/customers?lang={}&q={}", lang.code(), encode(&text));
    let next = (search.is_none() && members.len() == PAGE as usize).then(|| match (sorted, sort) {
        (true, Some((name, _, _))) => format!("{base}&sort={name}&page={}", page + 1),
        _ => format!("{base}&after={}", members.last().map_or(0, |m| m.id)),
    });
    let sort_link = |name: &str| format!("{base}&sort={name}");
    let days_ago = |d: i64| lang.t1("customers-days-ago", "days", d);
    let body = html! {
        form.search method="get" action="/customers" role="search" {
            input type="hidden" name="lang" value=(lang.code());
            label for="s" { (lang.t("customers-search")) } " "
            input #s type="search" name="s" value=(p.s.as_deref().unwrap_or_default()) placeholder=(lang.t("customers-search-hint"));
            " "
            button type="submit" { (lang.t("customers-search-go")) }
        }
        form #filter method="get" action="/customers" {
            input type="hidden" name="lang" value=(lang.code());
            fieldset.classes {
                legend { (lang.t("customers-classes")) }
                @for (kind, names) in class_kinds() {
                    label {
                        (lang.t(&format!("kind-{kind}"))) " "
                        select name=(kind) {
                            option value="" { (lang.t("customers-any")) }
                            @for name in names.iter() {
                                option value=(name) selected[filter.chosen(kind) == Some(*name)] { (lang.class(kind, name)) }
                            }
                        }
                    }
                }
            }
            p {
                label for="q" { (lang.t("customers-filter")) } " "
                input #q type="text" name="q" value=(filter.q.as_deref().unwrap_or_default()) placeholder=(lang.t("customers-filter-hint"))
                    aria-invalid=[error.as_ref().map(|_| "true")] aria-describedby=[error.as_ref().map(|_| "q-error")];
                " "
                button type="submit" { (lang.t("customers-apply")) }
            }
            @if let Some(why) = &error {
                p #q-error .error role="alert" { (lang.t("filter-error")) "\n" (why) }
            }
        }
        @if let Some(name) = &p.saved {
            p role="status" { (lang.t1("segment-saved", "name", name.clone())) " "
                a #to-campaign href={ "/campaigns?lang=" (lang.code()) "&segment=" (encode(name)) } { (lang.t("segment-to-campaign")) } }
        }
        @if search.is_some() {
            @let key = if members.len() == PAGE as usize { "customers-found-first" } else { "customers-found" };
            p #found role="status" { (lang.t1(key, "count", members.len())) }
        } @else {
            p #live-count aria-live="polite" data-label=(lang.t1("customers-count", "count", "{n}")) {
                @if let Some(n) = count { (lang.t1("customers-count", "count", n)) }
            }
            script { (PreEscaped(LIVE_COUNT)) }
            @if sort.is_some() && !sorted && error.is_none() {
                p role="status" { (lang.t("customers-sorted-ids")) }
            }
            @if error.is_none() {
                p { a #export href=(format!("/customers.csv?q={}", encode(&text))) download { (lang.t("customers-export")) } }
            }
        }
        @if members.is_empty() {
            @if error.is_none() { p { (lang.t("customers-none")) } }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("col-id")) } th scope="col" { (lang.t("col-name")) } th scope="col" { (lang.t("col-source")) }
                    th.num scope="col" aria-sort=[(sort.is_some_and(|x| x.0 == "value") && sorted).then_some("descending")] {
                        a href=(sort_link("value")) { (lang.t("col-paid")) } }
                    th.num scope="col" aria-sort=[(sort.is_some_and(|x| x.0 == "profit") && sorted).then_some("descending")] {
                        a href=(sort_link("profit")) { (lang.t("col-profit")) } }
                    th scope="col" { (lang.t("kind-relationship")) }
                    th scope="col" { (lang.t("kind-tier")) }
                    th scope="col" aria-sort=[(sort.is_some_and(|x| x.0 == "recency") && sorted).then_some("ascending")] {
                        a href=(sort_link("recency")) { (lang.t("col-last-order")) } }
                } }
                tbody {
                    @for m in &members {
                        @let l = listed.get(&m.id);
                        tr {
                            td { (m.id) }
                            td { a href=(format!("/customers/{}?lang={}", m.id, lang.code())) { (m.name.as_deref().unwrap_or("–")) } }
                            td { (m.source) ":" (guanxi_app::customers::shown_id(&m.external_id)) }
                            td.num { (l.and_then(|l| l.paid_amount_cents).map_or("–".into(), crate::format::yuan)) }
                            td.num { (l.and_then(|l| l.profit_cents).map_or("–".into(), crate::format::yuan)) }
                            td { (l.and_then(|l| l.relationship.as_deref()).map_or("–".into(), |c| lang.class("relationship", c))) }
                            td { (l.and_then(|l| l.tier.as_deref()).map_or("–".into(), |c| lang.class("tier", c))) }
                            td { (l.and_then(|l| l.recency_days).map_or("–".into(), days_ago)) }
                        }
                    }
                }
            }
        }
        @if let Some(href) = next {
            p { a href=(href) rel="next" { (lang.t("customers-next")) } }
        }
        @if search.is_none() && error.is_none() && !text.trim().is_empty() {
            (save_form(lang, &text, "", "", None))
        }
    };
    // A filter that does not parse is the request's fault: the page shows where, and the
    // status says so.
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, html(frame(lang, Page::Customers, &here, &title, body))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SaveForm {
    lang: Option<String>,
    q: String,
    name: String,
    #[serde(default)]
    description: String,
}

/// The form that saves the filter as a named segment; `error` (field, message) is shown
/// next to its field.
fn save_form(lang: Lang, text: &str, name: &str, description: &str, error: Option<(&str, &str)>) -> Markup {
    let err = |field: &str| error.filter(|(f, _)| *f == field).map(|(_, m)| m.to_string());
    let (name_error, q_error) = (err("name"), err("q"));
    html! {
        form method="post" action="/segments" {
            h2 { (lang.t("segment-save")) }
            (crate::auth::csrf_field())
            input type="hidden" name="lang" value=(lang.code());
            p {
                label for="seg-q" { (lang.t("customers-filter")) } " "
                input #seg-q type="text" name="q" value=(text) aria-invalid=[q_error.as_ref().map(|_| "true")]
                    aria-describedby=[q_error.as_ref().map(|_| "seg-q-error")];
                @if let Some(m) = &q_error { span #seg-q-error .error role="alert" { (m) } }
            }
            p {
                label for="seg-name" { (lang.t("segment-name")) } " "
                input #seg-name type="text" name="name" value=(name) required aria-invalid=[name_error.as_ref().map(|_| "true")]
                    aria-describedby=[name_error.as_ref().map(|_| "seg-name-error")];
                @if let Some(m) = &name_error { span #seg-name-error .error role="alert" { (m) } }
            }
            p {
                label for="seg-description" { (lang.t("segment-description")) } " "
                input #seg-description type="text" name="description" value=(description);
            }
            button type="submit" { (lang.t("segment-save")) }
        }
    }
}

/// `POST /segments`: saves the filter as a named segment (the same checks as `guanxi
/// segment save`) and shows its customers; a bad name or expression comes back to the
/// form with the error next to the field.
pub async fn save(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SaveForm>,
) -> Result<Response, WebError> {
    let lang = lang_of(f.lang.as_deref(), &headers);
    let Some(by) = crate::auth::viewer().map(|v| v.actor()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let name = f.name.trim().to_string();
    match guanxi_app::segments::save(s.store.as_ref(), &name, &f.q, f.description.trim(), &by).await? {
        Ok(saved) => {
            let to = format!(
                "/customers?lang={}&q={}&saved={}",
                lang.code(),
                encode(&saved.expression),
                encode(&name)
            );
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => {
            let (field, message) = match &e {
                SaveError::NoName => ("name", lang.t("segment-name-needed")),
                SaveError::Syntax(err) => ("q", err.render(&f.q, "q")),
                SaveError::Reference(err) => ("q", err.to_string()),
            };
            let title = lang.t("segment-save");
            let body = save_form(lang, &f.q, &f.name, &f.description, Some((field, &message)));
            let page = frame(lang, Page::Customers, "/customers", &title, body);
            Ok((StatusCode::BAD_REQUEST, html(page)).into_response())
        }
    }
}

/// The expression of the filter `text` (saved segments inlined), or the located error
/// as text; everyone profiled when `text` is blank.
async fn resolve(s: &AppState, text: &str) -> Result<Result<Expr, String>, WebError> {
    if text.trim().is_empty() {
        return Ok(parse("paid_orders >= 0").map_err(|e| e.render("", "")));
    }
    match guanxi_store::segment::resolve(s.store.as_ref(), text, "q").await {
        Ok(r) => Ok(Ok(r.expr)),
        Err(ResolveError::Store(e)) => Err(e.into()),
        Err(ResolveError::Syntax { rendered }) => Ok(Err(rendered)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// `GET /customers.csv?q=…&tier=…`: the filter's members (everyone profiled when blank)
/// as `guanxi customers export` writes them, streamed a page at a time; contacts masked
/// (the web has no sign-in yet, so no one here is shown a customer's number). A filter
/// that does not parse is a 400 with the located error.
pub async fn export(State(s): State<AppState>, Query(filter): Query<Filter>) -> Result<Response, WebError> {
    use axum::body::{Body, Bytes};
    use guanxi_store::tables::{CUSTOMER_EXPORT_HEADER, ContactView};
    if s.store.latest_build().await?.is_none() {
        return Ok(crate::api::error(
            StatusCode::CONFLICT,
            "no_build",
            "no profile build yet: guanxi profile build".into(),
        ));
    }
    let text = filter.text();
    let expr = match resolve(&s, &text).await? {
        Ok(_) if text.trim().is_empty() => None,
        Ok(e) => Some(e),
        Err(why) => return Ok(crate::api::error(StatusCode::BAD_REQUEST, "segment_syntax", why)),
    };
    let by = crate::auth::actor();
    let described = (!text.trim().is_empty()).then_some(text.as_str());
    let export =
        guanxi_app::exports::customers(s.store.as_ref(), expr, described, ContactView::Masked, "web", &by).await?;
    fn csv_bytes(rows: &[Vec<String>], header: bool) -> Result<Bytes, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        if header {
            w.write_record(CUSTOMER_EXPORT_HEADER)?;
        }
        for r in rows {
            w.write_record(r)?;
        }
        w.into_inner().map(Bytes::from).map_err(|e| e.into_error().into())
    }
    // State: the export, `None` once the last page was sent; the first page carries the header.
    let pages = futures::stream::unfold(Some((export, true)), move |state| {
        let s = s.clone();
        async move {
            let (mut export, first) = state?;
            match export.next_page(s.store.as_ref()).await {
                Ok(Some(rows)) => Some((
                    csv_bytes(&rows, first).map_err(std::io::Error::other),
                    Some((export, false)),
                )),
                Ok(None) => None,
                Err(e) => {
                    // Mid-stream the status is sent: the body stops short, the cause is logged.
                    tracing::error!(error = %e, "customers export stopped");
                    Some((Err(std::io::Error::other("the export stopped")), None))
                }
            }
        }
    });
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"customers.csv\"",
            ),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}

/// `GET /api/segment/count?q=…&tier=…`: `{"customers": N}`, or 400 with `{"error": …}`
/// (the located parse error): the customers page's live count as the filter changes.
pub async fn count(State(s): State<AppState>, Query(filter): Query<Filter>) -> Result<Response, WebError> {
    let Some(build) = s.store.latest_build().await? else {
        return Ok((StatusCode::CONFLICT, Json(json!({ "error": "no profile build yet" }))).into_response());
    };
    Ok(match resolve(&s, &filter.text()).await? {
        Ok(e) => Json(json!({ "customers": crate::counts::count(&s, &e, &build).await? })).into_response(),
        Err(why) => (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response(),
    })
}

/// Updates the count as the filter is typed (debounced): progressive — without script
/// the form's submit does the same.
const LIVE_COUNT: &str = r#"
(() => {
  const form = document.getElementById('filter'), out = document.getElementById('live-count');
  if (!form || !out) return;
  let timer;
  const update = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const query = new URLSearchParams(new FormData(form));
      const r = await fetch('/api/segment/count?' + query);
      const body = await r.json();
      out.textContent = r.ok ? out.dataset.label.replace('{n}', body.customers) : body.error;
    }, 300);
  };
  form.addEventListener('input', update);
  form.addEventListener('change', update);
})();
"#;

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
