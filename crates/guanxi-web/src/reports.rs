//! Report pages: each report over paid orders as a table (a chart where one reads
//! better), by month, quarter or year, and the same table as CSV.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::report::{Granularity, OrderReport};
use maud::html;
use serde::Deserialize;

use crate::chart::bars;
use crate::layout::{Page, frame};
use crate::{AppState, WebError, html, lang_of};

#[derive(Debug, Deserialize)]
pub struct Params {
    lang: Option<String>,
    report: Option<String>,
    period: Option<String>,
}

impl Params {
    /// The report and period asked for; the first report and quarters by default, and
    /// an unknown name is a 400 saying which names exist.
    fn chosen(&self) -> Result<(OrderReport, Granularity), String> {
        let report = match self.report.as_deref() {
            None | Some("") => OrderReport::Repurchase,
            Some(r) => OrderReport::parse(r).ok_or_else(|| {
                let names: Vec<&str> = OrderReport::ALL.iter().map(|r| r.as_str()).collect();
                format!("report: expected one of {}, found {r:?}", names.join(", "))
            })?,
        };
        let period = match self.period.as_deref() {
            None | Some("") | Some("quarter") => Granularity::Quarter,
            Some("month") => Granularity::Month,
            Some("year") => Granularity::Year,
            Some(p) => return Err(format!("period: expected month, quarter or year, found {p:?}")),
        };
        Ok((report, period))
    }
}

fn period_name(g: Granularity) -> &'static str {
    match g {
        Granularity::Month => "month",
        Granularity::Quarter => "quarter",
        Granularity::Year => "year",
    }
}

pub async fn show(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let here = uri.to_string();
    let (report, period) = match p.chosen() {
        Ok(c) => c,
        Err(why) => return Ok((StatusCode::BAD_REQUEST, why).into_response()),
    };
    let title = lang.t(&format!("report-{}", report.as_str()));
    let r = s.analytics.order_reports(period).await.map_err(WebError::Analytics)?;
    let (header, rows) = r.table(report);
    let query = |rep: OrderReport, g: Granularity| {
        format!("report={}&period={}&lang={}", rep.as_str(), period_name(g), lang.code())
    };
    // Rates per period as percentages; cycles in days.
    let percent = |rows: Vec<(String, f64)>| bars(&title, &rows, |v| format!("{v:.1}%"));
    let chart = match report {
        OrderReport::Repurchase => Some(percent(
            r.repurchase
                .iter()
                .map(|x| (x.period.clone(), x.rate * 100.0))
                .collect(),
        )),
        OrderReport::Retention => Some(percent(
            r.retention.iter().map(|x| (x.period.clone(), x.rate * 100.0)).collect(),
        )),
        OrderReport::Cycles => {
            let rows: Vec<(String, f64)> = r.cycles.iter().map(|x| (x.category.clone(), x.median_days)).collect();
            Some(bars(&title, &rows, |v| format!("{v:.0}")))
        }
        OrderReport::Categories | OrderReport::Cohorts => None,
    };
    let body = html! {
        nav aria-label=(lang.t("nav-reports")) {
            ul.tabs {
                @for rep in OrderReport::ALL {
                    li { a href=(format!("/reports?{}", query(rep, period))) aria-current=[(rep == report).then_some("page")] {
                        (lang.t(&format!("report-{}", rep.as_str())))
                    } }
                }
            }
            p {
                @for g in [Granularity::Month, Granularity::Quarter, Granularity::Year] {
                    a href=(format!("/reports?{}", query(report, g))) aria-current=[(g == period).then_some("true")] {
                        (lang.t(&format!("period-{}", period_name(g))))
                    } " "
                }
                " · "
                a href=(format!("/reports.csv?{}", query(report, period))) download { (lang.t("export-csv")) }
            }
        }
        p { (lang.t1("customers-count", "count", r.customers)) }
        @if let Some(c) = chart { div.charts { (c) } }
        table {
            thead { tr { @for h in &header { th scope="col" { (h) } } } }
            tbody { @for row in &rows { tr { @for cell in row { td { (cell) } } } } }
        }
    };
    Ok(html(frame(lang, Page::Reports, &here, &title, body)).into_response())
}

pub async fn csv(State(s): State<AppState>, Query(p): Query<Params>) -> Result<Response, WebError> {
    let (report, period) = match p.chosen() {
        Ok(c) => c,
        Err(why) => return Ok((StatusCode::BAD_REQUEST, why).into_response()),
    };
    let r = s.analytics.order_reports(period).await.map_err(WebError::Analytics)?;
    let (header, rows) = r.table(report);
    let mut w = csv::Writer::from_writer(Vec::new());
    let written = w
        .write_record(&header)
        .and_then(|_| rows.iter().try_for_each(|row| w.write_record(row)));
    let bytes = written
        .map_err(|e| WebError::Analytics(e.to_string()))
        .and_then(|_| w.into_inner().map_err(|e| WebError::Analytics(e.to_string())))?;
    let name = format!("{}-{}.csv", report.as_str(), period_name(period));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}
