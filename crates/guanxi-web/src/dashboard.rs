//! The dashboard: the latest profile build's figures, its class distributions and the
//! CLV distribution as charts, satisfaction.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Html;
use maud::html;
use serde::Deserialize;

use crate::chart::bars;
use crate::layout::{Page, frame, no_build};
use crate::{AppState, WebError, html, lang_of};

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
    let summary: serde_json::Value = serde_json::from_str(&build.summary).unwrap_or_default();
    let (totals, satisfaction, clv) = tokio::try_join!(
        s.store.class_totals(),
        s.store.satisfaction(build.as_of),
        s.store.clv_distribution()
    )?;
    let rows = |kind: &str| -> Vec<(String, f64)> {
        totals
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| (lang.class(kind, &t.class), t.customers as f64))
            .collect()
    };
    let clv_total: i64 = totals
        .iter()
        .filter(|t| t.kind == "relationship")
        .map(|t| t.clv_cents)
        .sum();
    let clv_rows: Vec<(String, f64)> = clv
        .iter()
        .map(|b| {
            let from = b.from_cents / 100;
            let label = b
                .to_cents
                .map_or(format!("{from}+"), |to| format!("{from}–{}", to / 100));
            (label, b.customers as f64)
        })
        .collect();
    let count = |v: f64| format!("{v:.0}");
    let date = build.as_of.with_timezone(&s.tz.0).date_naive().to_string();
    let kpis = [
        (lang.t("kpi-customers"), build.customers.to_string()),
        (lang.t("kpi-buyers"), summary["buyers"].to_string()),
        (
            lang.t("kpi-key-share"),
            format!(
                "{:.1}%",
                summary["key_customers_profit_share"].as_f64().unwrap_or(0.0) * 100.0
            ),
        ),
        (lang.t("kpi-paid-orders"), satisfaction.paid_orders.to_string()),
        (
            lang.t("kpi-complaint-rate"),
            format!("{:.2}", satisfaction.complaint_rate),
        ),
        (
            lang.t("kpi-item-rating"),
            satisfaction.item_rating.map_or("–".into(), |r| format!("{r:.2}")),
        ),
        (lang.t("kpi-clv"), format!("¥{:.0}", clv_total as f64 / 100.0)),
    ];
    let body = html! {
        p { (lang.t1("as-of", "date", date)) }
        ul.kpis {
            @for (label, value) in &kpis {
                li { span.label { (label) } span.value { (value) } }
            }
        }
        div.charts {
            (bars(&lang.t("chart-relationship"), &rows("relationship"), count))
            (bars(&lang.t("chart-tier"), &rows("tier"), count))
            (bars(&lang.t("chart-lifecycle"), &rows("lifecycle"), count))
            (bars(&lang.t("chart-activity"), &rows("activity"), count))
            (bars(&lang.t("chart-clv"), &clv_rows, count))
        }
    };
    Ok(html(frame(lang, Page::Dashboard, &here, &title, body)))
}
