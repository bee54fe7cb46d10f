//! The dashboard: the latest profile build's figures, its class distributions and the
//! CLV distribution as charts, satisfaction.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use crate::chart::{bars, clv_bars, value_pyramid};
use crate::layout::{Page, frame, no_build};
use crate::{AppState, Lang, WebError, html, lang_of};
use guanxi_domain::report::{Granularity, PeriodRepurchase};

#[derive(Debug, Deserialize)]
pub struct Params {
    lang: Option<String>,
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let title = lang.t("dashboard-title");
    let here = uri.to_string();
    let Some(build) = s.store.latest_build().await? else {
        return Ok(html(no_build(lang, Page::Dashboard, &here, &title)));
    };
    // A summary this version cannot read (a store written by an older one) leaves its
    // two figures blank; the page stands on the store's totals.
    let summary = guanxi_app::profiles::BuildSummary::of(&build)
        .inspect_err(|e| tracing::warn!(error = %e, "the dashboard's build summary"))
        .ok();
    let (totals, satisfaction, clv) = tokio::try_join!(
        s.store.class_totals(),
        s.store.satisfaction(build.as_of),
        s.store.clv_distribution()
    )?;
    // The last month against the one before, from the orders; the page still shows the
    // build's figures when the lake cannot answer.
    let months = match s.analytics.order_reports(Granularity::Month).await {
        Ok(r) => r.repurchase,
        Err(e) => {
            tracing::warn!(error = %e, "the dashboard's monthly figures");
            Vec::new()
        }
    };
    let period_kpis = period_kpis(lang, &months);
    let rows = |kind: &str| -> Vec<(String, f64)> {
        totals
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| (lang.class(kind, &t.class), t.customers as f64))
            .collect()
    };
    let clv_total: i64 = totals
        .iter()
        .filter(|t| t.kind == guanxi_domain::profile::ClassKind::Relationship.as_str())
        .map(|t| t.clv_cents)
        .sum();
    let count = |v: f64| format!("{v:.0}");
    let date = build.as_of.with_timezone(&s.tz.0).date_naive().to_string();
    let kpis = [
        (lang.t("kpi-customers"), crate::format::grouped(build.customers)),
        (
            lang.t("kpi-buyers"),
            summary
                .as_ref()
                .map_or("–".into(), |s| crate::format::grouped(s.buyers as i64)),
        ),
        (
            lang.t("kpi-key-share"),
            summary.as_ref().map_or("–".into(), |s| {
                format!("{:.1}%", s.key_customers_profit_share * 100.0)
            }),
        ),
        (
            lang.t("kpi-paid-orders"),
            crate::format::grouped(satisfaction.paid_orders as i64),
        ),
        (
            lang.t("kpi-complaint-rate"),
            format!("{:.2}", satisfaction.complaint_rate),
        ),
        (
            lang.t("kpi-item-rating"),
            satisfaction.item_rating.map_or("–".into(), |r| format!("{r:.2}")),
        ),
        (lang.t("kpi-clv"), crate::format::yuan_whole(clv_total)),
    ];
    let body = html! {
        p { (lang.t1("as-of", "date", date)) }
        @if !period_kpis.is_empty() {
            h2 { (lang.t1("kpi-month", "period", months.last().map_or(String::new(), |m| m.period.clone()))) }
            ul.kpis {
                @for k in &period_kpis {
                    li {
                        span.label { (k.label) } span.value { (k.value) }
                        @if let Some((text, up)) = &k.change {
                            span.change.up[*up].down[!*up] { (if *up { "▲ " } else { "▼ " }) (text) }
                        }
                    }
                }
            }
            h2 { (lang.t("kpi-build")) }
        }
        ul.kpis {
            @for (label, value) in &kpis {
                li { span.label { (label) } span.value { (value) } }
            }
        }
        div.charts {
            (bars(&lang.t("chart-relationship"), &rows("relationship"), count))
            (value_pyramid(lang, &totals))
            (bars(&lang.t("chart-lifecycle"), &rows("lifecycle"), count))
            (bars(&lang.t("chart-activity"), &rows("activity"), count))
            (clv_bars(lang, &clv))
        }
    };
    Ok(html(frame(lang, Page::Dashboard, &here, &title, body)))
}

/// A figure of the last period with its change against the period before.
struct PeriodKpi {
    label: String,
    value: String,
    /// "+12.3% vs 2026-05" and whether it rose.
    change: Option<(String, bool)>,
}

/// Buyers, paid orders, paid amount and repurchase rate of the last month with orders,
/// each against the month before it (named, as it may not be the calendar's previous
/// month when a month had no orders).
fn period_kpis(lang: Lang, months: &[PeriodRepurchase]) -> Vec<PeriodKpi> {
    let Some(last) = months.last() else {
        return Vec::new();
    };
    let before = months.len().checked_sub(2).map(|i| &months[i]);
    let change = |now: f64, then: Option<f64>| {
        let (then, period) = (then?, &before?.period);
        if then == 0.0 {
            return None;
        }
        let delta = (now - then) / then * 100.0;
        Some((
            format!("{delta:+.1}% {}", lang.t1("kpi-vs", "period", period.clone())),
            delta >= 0.0,
        ))
    };
    let rate = |m: &PeriodRepurchase| m.rate * 100.0;
    vec![
        PeriodKpi {
            label: lang.t("col-buyers"),
            value: last.buyers.to_string(),
            change: change(last.buyers as f64, before.map(|b| b.buyers as f64)),
        },
        PeriodKpi {
            label: lang.t("kpi-paid-orders"),
            value: last.orders.to_string(),
            change: change(last.orders as f64, before.map(|b| b.orders as f64)),
        },
        PeriodKpi {
            label: lang.t("col-paid"),
            value: crate::format::yuan_whole(last.paid_cents),
            change: change(last.paid_cents as f64, before.map(|b| b.paid_cents as f64)),
        },
        PeriodKpi {
            label: lang.t("report-repurchase"),
            value: format!("{:.1}%", rate(last)),
            change: change(rate(last), before.map(rate)),
        },
    ]
}
