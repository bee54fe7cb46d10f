//! A member on their customer page: tier, points (balance, lots, history) and coupons,
//! with the forms staff use (members capability) to adjust points with a reason and to
//! issue a coupon — each over `guanxi_app::points` and `guanxi_app::coupons`.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_app::{coupons, points};
use guanxi_domain::access::Capability;
use guanxi_domain::points::Event;
use maud::{Markup, html};
use serde::Deserialize;

use crate::i18n::Lang;
use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

/// The most points events and coupons the page lists (the newest first).
const LISTED: usize = 30;

/// What an event did, in a few words.
fn event_text(lang: Lang, e: &Event) -> String {
    match e {
        Event::Earn { points, .. } => format!("+{points}"),
        Event::Redeem { points } => format!("−{points}"),
        Event::Refund { points, .. } => format!("−{points} ({})", lang.t("points-refund")),
        Event::Expire => lang.t("points-expired"),
        Event::Adjust { points, reason, .. } => format!("{points:+} {reason}"),
    }
}

/// The membership section of customer `id`'s page, with `error` (a refused form) shown.
pub async fn section(s: &AppState, lang: Lang, id: i64, error: Option<&str>) -> Result<Markup, WebError> {
    let store = s.store.as_ref();
    let member = points::show(store, id).await?;
    let filter = guanxi_store::CouponFilter {
        customer_id: Some(id),
        limit: LISTED as u32,
        ..Default::default()
    };
    let issued = coupons::list(store, &filter).await?;
    let now = chrono::Utc::now();
    let day = |t: &chrono::DateTime<chrono::Utc>| t.with_timezone(&s.tz.0).format("%Y-%m-%d").to_string();
    let may_act = crate::auth::viewer().is_none_or(|v| v.user.role.may(Capability::Members));
    // A form posted twice (a double click, a reload) is one adjustment, one coupon.
    let nonce = format!("web-{:016x}", rand::random::<u64>());
    Ok(html! {
        section aria-labelledby="membership" {
            h2 #membership { (lang.t("section-membership")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            ul.kpis {
                li { span.label { (lang.t("member-tier")) } span.value { (member.tier.as_deref().unwrap_or("–")) } }
                li { span.label { (lang.t("member-balance")) } span.value { (member.balance) } }
                @if member.debt > 0 { li { span.label { (lang.t("member-debt")) } span.value { (member.debt) } } }
            }
            @let lots: Vec<_> = member.lots.iter().filter(|l| l.remaining > 0).collect();
            @if !lots.is_empty() {
                table {
                    caption { (lang.t("member-lots")) }
                    thead { tr { th scope="col" { (lang.t("col-date")) } th scope="col" { (lang.t("col-source")) }
                                 th.num scope="col" { (lang.t("member-remaining")) } th scope="col" { (lang.t("member-expires")) } } }
                    tbody { @for l in &lots { tr {
                        td { (day(&l.earned_at)) } td { (l.key) } td.num { (l.remaining) " / " (l.points) } td { (day(&l.expires_at)) }
                    } } }
                }
            }
            @if !member.history.is_empty() {
                table {
                    caption { (lang.t("member-history")) }
                    thead { tr { th scope="col" { (lang.t("col-date")) } th scope="col" { (lang.t("col-source")) }
                                 th scope="col" { (lang.t("member-change")) } th scope="col" { (lang.t("member-by")) } } }
                    tbody { @for e in member.history.iter().rev().take(LISTED) { tr {
                        td { (day(&e.at)) } td { (e.key) } td { (event_text(lang, &e.event)) } td { (e.actor) }
                    } } }
                }
            }
            table {
                caption { (lang.t("member-coupons")) }
                @if issued.is_empty() { tbody { tr { td { (lang.t("none-yet")) } } } } @else {
                    thead { tr { th scope="col" { (lang.t("coupon-code")) } th scope="col" { (lang.t("coupon-name")) }
                                 th.num scope="col" { (lang.t("coupon-value")) } th scope="col" { (lang.t("coupon-issued")) }
                                 th scope="col" { (lang.t("col-status")) } } }
                    tbody { @for c in &issued { tr {
                        td { code { (c.code) } } td { (c.definition) } td.num { (crate::format::yuan(c.value_cents)) }
                        td { (day(&c.issued_at)) " · " (c.source) }
                        td { @match c.redeemed_order {
                            Some(order) => { (lang.t1("coupon-redeemed", "order", order)) }
                            None => { (lang.t(&format!("coupon-{}", c.status(now).as_str()))) " " (day(&c.expires_at)) }
                        } }
                    } } }
                }
            }
            @if may_act {
                form method="post" action={ "/customers/" (id) "/points" } {
                    (crate::auth::csrf_field())
                    input type="hidden" name="lang" value=(lang.code());
                    input type="hidden" name="reference" value=(nonce);
                    label { (lang.t("member-adjust-points")) " " input type="number" name="points" required step="1"; }
                    " " label { (lang.t("member-adjust-reason")) " "
                        input type="text" name="reason" required minlength="3" maxlength="200"; }
                    " " button type="submit" { (lang.t("member-adjust-button")) }
                }
                form method="post" action={ "/customers/" (id) "/coupons" } {
                    (crate::auth::csrf_field())
                    input type="hidden" name="lang" value=(lang.code());
                    input type="hidden" name="key" value=(nonce);
                    label { (lang.t("coupon-name")) " " select name="coupon" {
                        @for (name, d) in &s.membership.coupons.0 { option value=(name) { (name) " — " (d.title) } }
                    } }
                    " " button type="submit" { (lang.t("coupon-issue-button")) }
                }
            }
        }
    })
}

#[derive(Deserialize)]
pub struct AdjustForm {
    points: String,
    reason: String,
    reference: String,
    lang: Option<String>,
}

#[derive(Deserialize)]
pub struct IssueForm {
    coupon: String,
    key: String,
    lang: Option<String>,
}

/// Back to the member's page, at their membership.
fn back(id: i64, lang: Lang) -> Response {
    Redirect::to(&format!("/customers/{id}?lang={}#membership", lang.code())).into_response()
}

/// The customer page again with `why` at the membership section (400), or 404 for no
/// such customer.
async fn refused(s: &AppState, lang: Lang, id: i64, uri: &Uri, why: &str) -> Result<Response, WebError> {
    if s.store.customer_by_id(id).await?.is_none() {
        let title = lang.t("not-found");
        let page = frame(lang, Page::Customers, &uri.to_string(), &title, html! { p { (title) } });
        return Ok((StatusCode::NOT_FOUND, html(page)).into_response());
    }
    let body = section(s, lang, id, Some(why)).await?;
    let page = frame(
        lang,
        Page::Customers,
        &uri.to_string(),
        &lang.t("section-membership"),
        body,
    );
    Ok((StatusCode::BAD_REQUEST, html(page)).into_response())
}

/// Back to the member's page once `done`; a refusal shown at the section (400).
async fn answered<T>(
    s: &AppState,
    lang: Lang,
    id: i64,
    uri: &Uri,
    done: Result<T, guanxi_app::AppError>,
) -> Result<Response, WebError> {
    match done {
        Ok(_) => Ok(back(id, lang)),
        Err(e) if e.is_bad_input() => refused(s, lang, id, uri, &e.to_string()).await,
        Err(e) => Err(e.into()),
    }
}

/// `POST /customers/{id}/points`: an adjustment with its reason, by the signed-in user.
pub async fn adjust(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    uri: Uri,
    headers: HeaderMap,
    Form(f): Form<AdjustForm>,
) -> Result<Response, WebError> {
    let lang = lang_of(f.lang.as_deref(), &headers);
    let Some(by) = crate::auth::viewer().map(|v| v.actor()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let Ok(n) = f.points.trim().parse::<i64>() else {
        let why = format!("points: {} {:?}", lang.t("member-bad-points"), f.points);
        return refused(&s, lang, id, &uri, &why).await;
    };
    let adjustment = points::Adjustment {
        customer_id: id,
        points: n,
        reason: f.reason,
        reference: f.reference,
    };
    let done = points::adjust(
        s.store.as_ref(),
        &adjustment,
        s.membership.rules,
        &by,
        chrono::Utc::now(),
    )
    .await;
    answered(&s, lang, id, &uri, done).await
}

/// `POST /customers/{id}/coupons`: a coupon issued by the signed-in user.
pub async fn issue(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    uri: Uri,
    headers: HeaderMap,
    Form(f): Form<IssueForm>,
) -> Result<Response, WebError> {
    let lang = lang_of(f.lang.as_deref(), &headers);
    let Some(by) = crate::auth::viewer().map(|v| v.actor()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let request = coupons::Issue {
        customer_id: id,
        coupon: f.coupon,
        key: Some(f.key),
    };
    let done = coupons::issue(
        s.store.as_ref(),
        &s.membership.coupons,
        &request,
        &by,
        chrono::Utc::now(),
    )
    .await;
    answered(&s, lang, id, &uri, done).await
}
