//! The campaigns pages (issue 16): a marketer's path from a saved segment to a launched
//! campaign and what it earned — the list with a form for a new campaign (one audience
//! from a saved segment, or a whole plan in TOML), a campaign's page with its waves and,
//! before launch, the sizes and the lift the split can detect, the launch button, and
//! after launch the report with its intervals and a verdict in words.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use guanxi_domain::Channel;
use guanxi_domain::campaign::effect::Estimate;
use guanxi_domain::campaign::{Audience, Plan, Row, Variant, Verdict};
use maud::{Markup, html};
use serde::Deserialize;

use crate::customers::encode;
use crate::format::yuan;
use crate::layout::{Page, frame};
use crate::{AppState, Lang, WebError, html, lang_of};

#[derive(Deserialize)]
pub struct ListParams {
    lang: Option<String>,
    /// A saved segment to start the new campaign from (the customers page's link).
    segment: Option<String>,
}

/// `GET /campaigns`: every campaign, and the form for a new one.
pub async fn list(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let form = NewCampaign {
        segment: p.segment.unwrap_or_default(),
        ..NewCampaign::default()
    };
    let body = list_body(&s, lang, &form, None).await?;
    Ok(html(frame(
        lang,
        Page::Campaigns,
        &uri.to_string(),
        &lang.t("campaigns-title"),
        body,
    ))
    .into_response())
}

async fn list_body(s: &AppState, lang: Lang, form: &NewCampaign, error: Option<&str>) -> Result<Markup, WebError> {
    let campaigns = guanxi_app::campaigns::list(s.store.as_ref()).await?;
    let segments = s.store.segments().await?;
    let tz = s.tz;
    Ok(html! {
        p { (lang.t("campaigns-how")) }
        @if campaigns.is_empty() {
            p { (lang.t("campaigns-none")) }
        } @else {
            table #campaigns {
                thead { tr {
                    th { (lang.t("campaigns-name")) } th { (lang.t("campaigns-state")) }
                    th.num { (lang.t("campaigns-members")) } th { (lang.t("campaigns-created-by")) }
                } }
                tbody {
                    @for c in &campaigns {
                        tr {
                            td { a href={ "/campaigns/" (encode(&c.name)) "?lang=" (lang.code()) } { (c.name) } }
                            td { @match c.launched_at {
                                Some(at) => { (lang.t1("campaigns-launched-at", "time", at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M").to_string())) }
                                None => { (lang.t("campaigns-not-launched")) }
                            } }
                            td.num { (c.members) }
                            td { (c.created_by) }
                        }
                    }
                }
            }
        }
        @if may_run() { section aria-labelledby="new-campaign" {
            h2 #new-campaign { (lang.t("campaigns-new")) }
            form #campaign-form method="post" action="/campaigns" {
                (crate::auth::csrf_field())
                input type="hidden" name="lang" value=(lang.code());
                @if let Some(why) = error {
                    p #campaign-error .error role="alert" { (why) }
                }
                p { label { (lang.t("campaigns-name")) " " input #c-name type="text" name="name" required value=(form.name) pattern="[a-z0-9_-]{1,64}"; } }
                p { label { (lang.t("campaigns-title-field")) " " input #c-title type="text" name="title" value=(form.title); } }
                p {
                    label { (lang.t("campaigns-starts")) " " input #c-starts type="date" name="starts" value=(form.starts); }
                    " "
                    label { (lang.t("campaigns-ends")) " " input #c-ends type="date" name="ends" value=(form.ends); }
                }
                p { label { (lang.t("campaigns-waves")) " " input #c-waves type="text" name="waves" value=(form.waves_or_default()); } }
                p {
                    label { (lang.t("campaigns-segment")) " "
                        select #c-segment name="segment" {
                            option value="" { "—" }
                            @for seg in &segments {
                                option value=(seg.name) selected[seg.name == form.segment] { (seg.name) }
                            }
                        }
                    }
                    " "
                    label { (lang.t("campaigns-holdout")) " " input #c-holdout type="number" name="holdout_percent" min="0" max="50" step="1" value=(form.holdout_or_default()); " %" }
                    " "
                    label { (lang.t("campaigns-channel")) " "
                        select #c-channel name="channel" {
                            @for c in [Channel::Sms, Channel::Email, Channel::Wechat] {
                                option value=(c.as_str()) selected[form.channel == c.as_str()] { (c.as_str()) }
                            }
                        }
                    }
                }
                details {
                    summary { (lang.t("campaigns-plan")) }
                    p { label for="c-plan" { (lang.t("campaigns-plan-how")) } }
                    textarea #c-plan name="plan" rows="12" cols="72" { (form.plan) }
                }
                p { button type="submit" { (lang.t("campaigns-create")) } }
            }
        } }
    })
}

/// Whether the signed-in user may create and launch campaigns (the forms are shown
/// only to them; the routes refuse the others all the same).
fn may_run() -> bool {
    crate::auth::viewer().is_none_or(|v| v.user.role.may(guanxi_domain::access::Capability::Campaigns))
}

/// The new-campaign form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct NewCampaign {
    #[serde(default)]
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    starts: String,
    #[serde(default)]
    ends: String,
    /// Days before `starts`, comma-separated.
    #[serde(default)]
    waves: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    holdout_percent: String,
    #[serde(default)]
    channel: String,
    /// A whole plan in TOML: when given, the fields above are not read.
    #[serde(default)]
    plan: String,
    lang: Option<String>,
}

impl NewCampaign {
    fn waves_or_default(&self) -> String {
        if self.waves.trim().is_empty() {
            let days: Vec<String> = guanxi_domain::campaign::DEFAULT_WAVES
                .iter()
                .map(i32::to_string)
                .collect();
            days.join(", ")
        } else {
            self.waves.clone()
        }
    }

    fn holdout_or_default(&self) -> String {
        if self.holdout_percent.trim().is_empty() {
            format!("{}", guanxi_domain::campaign::DEFAULT_HOLDOUT * 100.0)
        } else {
            self.holdout_percent.clone()
        }
    }

    /// The plan the fields describe (one audience from a saved segment), or the field
    /// that does not read and what it expected.
    fn plan(&self) -> Result<String, String> {
        if !self.plan.trim().is_empty() {
            return Ok(self.plan.clone());
        }
        let day = |field: &str, text: &str| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| format!("{field}: expected a day as YYYY-MM-DD, found {text:?}"))
        };
        let waves = self
            .waves_or_default()
            .split(',')
            .map(|w| {
                w.trim()
                    .parse::<i32>()
                    .map_err(|_| format!("waves: expected days before the start such as -7, -3, -1, found {w:?}"))
            })
            .collect::<Result<Vec<i32>, String>>()?;
        let holdout = self.holdout_or_default();
        let holdout = holdout
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|h| h.is_finite())
            .ok_or_else(|| format!("holdout_percent: expected a share from 0 to 50, found {holdout:?}"))?;
        if self.segment.trim().is_empty() {
            return Err("segment: expected a saved segment".into());
        }
        let channel = Channel::parse(&self.channel)
            .map_err(|_| format!("channel: expected sms, email or wechat, found {:?}", self.channel))?;
        let plan = Plan {
            name: self.name.trim().to_string(),
            title: self.title.trim().to_string(),
            starts: day("starts", &self.starts)?,
            ends: day("ends", &self.ends)?,
            waves,
            attribution_days: guanxi_domain::campaign::DEFAULT_ATTRIBUTION_DAYS,
            exclude_buyers: true,
            audiences: vec![Audience {
                name: self.segment.trim().to_string(),
                segment: self.segment.trim().to_string(),
                holdout: holdout / 100.0,
                variants: vec![Variant {
                    channel,
                    ..Variant::named("main")
                }],
            }],
        };
        Ok(plan.to_toml())
    }
}

/// `POST /campaigns`: creates the campaign the form describes (audited under the
/// signed-in user) and shows it; a field that does not read is shown on the form (400).
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<NewCampaign>,
) -> Result<Response, WebError> {
    let lang = lang_of(f.lang.as_deref(), &headers);
    let Some(by) = crate::auth::viewer().map(|v| v.actor()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let created = match f.plan() {
        Ok(text) => {
            match guanxi_app::campaigns::create(s.store.as_ref(), &text, s.known(), &by, chrono::Utc::now()).await {
                Ok(c) => Ok(c),
                Err(e) if e.is_bad_input() => Err(e.to_string()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(why) => Err(why),
    };
    match created {
        Ok(c) => Ok(Redirect::to(&format!("/campaigns/{}?lang={}", encode(&c.name), lang.code())).into_response()),
        Err(why) => {
            let body = list_body(&s, lang, &f, Some(&why)).await?;
            let page = frame(lang, Page::Campaigns, "/campaigns", &lang.t("campaigns-title"), body);
            Ok((StatusCode::BAD_REQUEST, html(page)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct ShowParams {
    lang: Option<String>,
}

/// `GET /campaigns/{name}`: the plan's waves and audiences; before launch the sizes as
/// they would be drawn now, the lift they can detect and the launch button; after
/// launch the report.
pub async fn show(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<ShowParams>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let store = s.store.as_ref();
    let now = chrono::Utc::now();
    let Some(stored) = store.campaign(&name).await? else {
        let body = html! { p.error role="alert" { (guanxi_app::campaigns::unknown(&name).to_string()) } };
        let page = frame(
            lang,
            Page::Campaigns,
            &uri.to_string(),
            &lang.t("campaigns-title"),
            body,
        );
        return Ok((StatusCode::NOT_FOUND, html(page)).into_response());
    };
    let plan = Plan::parse(&stored.plan).map_err(|e| WebError::Engage(format!("campaign {name}: {e}")))?;
    let tz = s.tz;
    let waves: Vec<(String, NaiveDate)> = (0..plan.waves.len())
        .map(|i| (Plan::wave_step(i), plan.wave_day(i)))
        .collect();
    let outline = html! {
        p {
            (lang.t("campaigns-goal")) " " (plan.starts) " – " (plan.ends)
            " · " (lang.t1("campaigns-attribution", "days", plan.attribution_days))
        }
        p { (lang.t("campaigns-waves")) ": "
            @for (i, (step, day)) in waves.iter().enumerate() {
                @if i > 0 { ", " } (step) " " (day)
            }
        }
        ul {
            @for a in &plan.audiences {
                li { strong { (a.name) } " ← " code { (a.segment) } " · " (lang.t("campaigns-holdout")) " " (format!("{:.0} %", a.holdout * 100.0)) }
            }
        }
    };
    let body = match stored.launched_at {
        None => {
            let preview = guanxi_app::campaigns::preview(store, tz, &name, now).await?;
            // A wave is gone once its day is over: launched now, it is never sent.
            let gone = waves
                .iter()
                .filter(|(_, day)| {
                    day.succ_opt()
                        .and_then(|d| tz.start_of(d))
                        .is_some_and(|end| end <= now)
                })
                .count();
            html! {
                (outline)
                @if gone > 0 {
                    p.error role="alert" { (lang.t_args("campaigns-waves-gone", &[("gone", gone.into()), ("waves", waves.len().into())])) }
                }
                h2 { (lang.t("campaigns-preview")) }
                table #sizes {
                    thead { tr {
                        th { (lang.t("campaigns-audience")) } th.num { (lang.t("campaigns-members")) }
                        th.num { (lang.t("campaigns-held-out")) } th.num { (lang.t("campaigns-base-rate")) }
                        th.num { (lang.t("campaigns-detectable")) }
                    } }
                    tbody { @for a in &preview.audiences {
                        tr {
                            td { (a.name) } td.num { (a.members) } td.num { (a.held_out) }
                            td.num { (format!("{:.1} %", a.base_rate * 100.0)) }
                            td.num { @match a.detectable_lift { Some(d) => { (format!("≥ {:.1}", d * 100.0)) } None => { "—" } } }
                        }
                    } }
                }
                @for a in &preview.audiences {
                    p.mde { (detectable(lang, a)) }
                }
                @if may_run() { form method="post" action={ "/campaigns/" (encode(&name)) "/launch" } {
                    (crate::auth::csrf_field())
                    input type="hidden" name="lang" value=(lang.code());
                    p { (lang.t("campaigns-launch-how")) }
                    button #launch type="submit" { (lang.t("campaigns-launch")) }
                } }
            }
        }
        Some(at) => {
            let effect = guanxi_app::campaigns::report(store, tz, &name, now).await?;
            html! {
                (outline)
                p role="status" { (lang.t1("campaigns-launched-at", "time", at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M").to_string()))
                    " · " (lang.t1("campaigns-members-n", "count", stored.members)) }
                h2 { (lang.t("campaigns-report")) }
                p { (lang.t("campaigns-report-how")) }
                @if !effect.complete { p.note { (lang.t("campaigns-so-far")) } }
                (report_table(lang, &effect.rows))
                h2 { (lang.t("campaigns-verdicts")) }
                ul #verdicts { @for r in &effect.rows { li { (verdict(lang, r)) } } }
            }
        }
    };
    let title = if plan.title.is_empty() {
        plan.name.clone()
    } else {
        plan.title.clone()
    };
    Ok(html(frame(lang, Page::Campaigns, &uri.to_string(), &title, body)).into_response())
}

/// "With 2,000 customers and a 10 % holdout this split can detect a lift of ≥ x points."
fn detectable(lang: Lang, a: &guanxi_app::campaigns::LaunchedAudience) -> String {
    match a.detectable_lift {
        Some(d) => lang.t_args(
            "campaigns-mde",
            &[
                ("audience", a.name.clone().into()),
                ("members", a.members.into()),
                ("held", a.held_out.into()),
                ("rate", format!("{:.1}", a.base_rate * 100.0).into()),
                ("lift", format!("{:.1}", d * 100.0).into()),
            ],
        ),
        None => lang.t1("campaigns-mde-none", "audience", a.name.clone()),
    }
}

/// An interval as people read it: `+2.1 [−0.4, +4.6]`, scaled by `k`.
pub fn interval(e: Option<Estimate>, k: f64) -> String {
    match e {
        Some(e) => format!("{:+.1} [{:+.1}, {:+.1}]", e.value * k, e.low * k, e.high * k),
        None => "—".into(),
    }
}

fn report_table(lang: Lang, rows: &[Row]) -> Markup {
    let rate = |converted: u64, size: u64| {
        if size == 0 {
            "—".to_string()
        } else {
            format!("{:.1} %", 100.0 * converted as f64 / size as f64)
        }
    };
    html! {
        table #effect {
            thead { tr {
                th { (lang.t("campaigns-row")) }
                th.num { (lang.t("campaigns-treated")) } th.num { (lang.t("campaigns-control")) }
                th.num { (lang.t("col-delivered")) } th.num { (lang.t("col-clicked")) }
                th.num { (lang.t("campaigns-bought-treated")) } th.num { (lang.t("campaigns-bought-control")) }
                th.num { (lang.t("campaigns-conversion-lift")) } th.num { (lang.t("campaigns-profit-lift")) }
                th.num { (lang.t("campaigns-incremental")) } th.num { (lang.t("campaigns-cost")) } th.num { "ROI" }
            } }
            tbody { @for r in rows {
                tr {
                    td { (who(lang, r)) }
                    td.num { (r.treated.size) } td.num { (r.control.size) }
                    td.num { (r.treated.delivered) } td.num { (r.treated.clicked) }
                    td.num { (rate(r.treated.converted, r.treated.size)) } td.num { (rate(r.control.converted, r.control.size)) }
                    td.num { (interval(r.conversion_lift, 100.0)) }
                    td.num { (interval(r.profit_lift, 0.01)) }
                    td.num { (interval(r.incremental_profit, 0.01)) }
                    td.num { (yuan(r.treated.cost + r.control.cost)) }
                    td.num { (interval(r.roi, 100.0)) }
                }
            } }
        }
    }
}

/// Whom a row measures: "wave 2 to vip / b", "the campaign".
pub fn who(lang: Lang, r: &Row) -> String {
    let mut to = match &r.audience {
        Some(a) => a.clone(),
        None => lang.t("campaigns-everyone"),
    };
    if let Some(v) = &r.variant {
        to = format!("{to} / {v}");
    }
    match r.wave {
        Some(w) => lang.t_args("campaigns-wave-to", &[("wave", w.into()), ("to", to.into())]),
        None => lang.t1("campaigns-all-waves-to", "to", to),
    }
}

/// The row's verdict in words, never more than its interval supports.
pub fn verdict(lang: Lang, r: &Row) -> String {
    let key = match r.verdict {
        Verdict::Earned => "campaigns-verdict-earned",
        Verdict::LostMoney => "campaigns-verdict-lost",
        Verdict::Inconclusive => "campaigns-verdict-inconclusive",
        Verdict::NoComparison => "campaigns-verdict-none",
    };
    let cost = (r.treated.cost + r.control.cost) as f64;
    let net = r.incremental_profit.map(|e| Estimate {
        value: e.value - cost,
        low: e.low - cost,
        high: e.high - cost,
    });
    lang.t_args(
        key,
        &[("who", who(lang, r).into()), ("interval", interval(net, 0.01).into())],
    )
}

#[derive(Deserialize)]
pub struct LaunchForm {
    lang: Option<String>,
}

/// `POST /campaigns/{name}/launch`: launches the campaign (audited) and shows it.
pub async fn launch(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(f): Form<LaunchForm>,
) -> Result<Response, WebError> {
    let lang = lang_of(f.lang.as_deref(), &headers);
    let Some(by) = crate::auth::viewer().map(|v| v.actor()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    guanxi_app::campaigns::launch(s.store.as_ref(), s.tz, &name, &by, chrono::Utc::now()).await?;
    Ok(Redirect::to(&format!("/campaigns/{}?lang={}", encode(&name), lang.code())).into_response())
}
