//! Report pages: each report over paid orders (from the lake, by month, quarter or year)
//! and each over the stored build (classes, movements, satisfaction, CLV) as a chart
//! where one reads better and always as the table, which also downloads as CSV.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::report::{Granularity, OrderReport, Reports};
use guanxi_domain::segment::class_kinds;
use guanxi_store::tables::{self, Table};
use guanxi_store::{BuildRecord, ClassTotal, ClvBucket, Movement, Satisfaction};
use maud::{Markup, html};
use serde::Deserialize;

use crate::chart::{bars, clv_bars, heatmap, line, quadrant, value_pyramid};
use crate::layout::{Page, frame, no_build};
use crate::{AppState, Lang, WebError, html, lang_of};

/// A report page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// The shop's order figures, guest orders included.
    ShopOrders,
    Orders(OrderReport),
    Classes,
    Movements,
    Satisfaction,
    Clv,
}

impl Shown {
    const BUILD: [Shown; 4] = [Shown::Classes, Shown::Movements, Shown::Satisfaction, Shown::Clv];

    fn all() -> impl Iterator<Item = Shown> {
        OrderReport::ALL
            .into_iter()
            .map(Shown::Orders)
            .chain([Shown::ShopOrders])
            .chain(Shown::BUILD)
    }

    fn as_str(self) -> &'static str {
        match self {
            Shown::Orders(r) => r.as_str(),
            Shown::ShopOrders => "orders",
            Shown::Classes => "classes",
            Shown::Movements => "movements",
            Shown::Satisfaction => "satisfaction",
            Shown::Clv => "clv",
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Params {
    lang: Option<String>,
    report: Option<String>,
    period: Option<String>,
    /// The class kind of the classes report.
    kind: Option<String>,
}

/// What a page asked for, parsed.
struct Chosen {
    shown: Shown,
    period: Granularity,
    kind: &'static str,
}

impl Params {
    /// The report, period and class kind asked for (repurchase, quarters and the value
    /// pyramid by default); an unknown name is a 400 saying which names exist.
    fn chosen(&self) -> Result<Chosen, String> {
        let shown = match self.report.as_deref() {
            None | Some("") => Shown::Orders(OrderReport::Repurchase),
            Some(r) => Shown::all().find(|s| s.as_str() == r).ok_or_else(|| {
                let names: Vec<&str> = Shown::all().map(Shown::as_str).collect();
                format!("report: expected one of {}, found {r:?}", names.join(", "))
            })?,
        };
        let period = match self.period.as_deref() {
            None | Some("") | Some("quarter") => Granularity::Quarter,
            Some("month") => Granularity::Month,
            Some("year") => Granularity::Year,
            Some(p) => return Err(format!("period: expected month, quarter or year, found {p:?}")),
        };
        let kind = match self.kind.as_deref() {
            None | Some("") => "tier",
            Some(k) => class_kinds().map(|(k, _)| k).find(|name| *name == k).ok_or_else(|| {
                let names: Vec<&str> = class_kinds().map(|(k, _)| k).collect();
                format!("kind: expected one of {}, found {k:?}", names.join(", "))
            })?,
        };
        Ok(Chosen { shown, period, kind })
    }
}

fn period_name(g: Granularity) -> &'static str {
    match g {
        Granularity::Month => "month",
        Granularity::Quarter => "quarter",
        Granularity::Year => "year",
    }
}

/// A report's figures.
enum Figures {
    Orders(Reports),
    ShopOrders(Vec<guanxi_domain::report::PeriodOrders>),
    Classes(Vec<ClassTotal>),
    Movements(Vec<Movement>),
    Satisfaction(Satisfaction),
    Clv(Vec<ClvBucket>),
}

impl Figures {
    /// The figures of `c`; `None` for a report over the build when there is none.
    async fn load(s: &AppState, c: &Chosen) -> Result<Option<(Figures, Option<BuildRecord>)>, WebError> {
        if let Shown::Orders(_) = c.shown {
            let r = s.analytics.order_reports(c.period).await.map_err(WebError::Analytics)?;
            return Ok(Some((Figures::Orders(r), None)));
        }
        if c.shown == Shown::ShopOrders {
            let periods = s.analytics.order_figures(c.period).await.map_err(WebError::Analytics)?;
            return Ok(Some((Figures::ShopOrders(periods), None)));
        }
        let Some(build) = s.store.latest_build().await? else {
            return Ok(None);
        };
        let figures = match c.shown {
            Shown::Classes => Figures::Classes(
                s.store
                    .class_totals()
                    .await?
                    .into_iter()
                    .filter(|t| t.kind == c.kind)
                    .collect(),
            ),
            Shown::Movements => Figures::Movements(s.store.movements(None).await?),
            Shown::Satisfaction => Figures::Satisfaction(s.store.satisfaction(build.as_of).await?),
            Shown::Clv => Figures::Clv(s.store.clv_distribution().await?),
            Shown::Orders(_) | Shown::ShopOrders => unreachable!("handled above"),
        };
        Ok(Some((figures, Some(build))))
    }

    /// The table the page shows and the CSV holds.
    fn table(&self, shown: Shown) -> Table {
        match (self, shown) {
            (Figures::Orders(r), Shown::Orders(which)) => r.table(which),
            (Figures::ShopOrders(p), _) => guanxi_domain::report::OrderFigures::table(p),
            (Figures::Classes(t), _) => tables::classes(t),
            (Figures::Movements(m), _) => tables::movements(m),
            (Figures::Satisfaction(s), _) => tables::satisfaction(s),
            (Figures::Clv(b), _) => tables::clv(b),
            (Figures::Orders(_), _) => (Vec::new(), Vec::new()),
        }
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
    let c = match p.chosen() {
        Ok(c) => c,
        Err(why) => return Ok((StatusCode::BAD_REQUEST, why).into_response()),
    };
    let title = lang.t(&format!("report-{}", c.shown.as_str()));
    let Some((figures, build)) = Figures::load(&s, &c).await? else {
        return Ok(html(no_build(lang, Page::Reports, &here, &title)).into_response());
    };
    let query = |shown: Shown, g: Granularity, kind: &str| {
        format!(
            "report={}&period={}&kind={kind}&lang={}",
            shown.as_str(),
            period_name(g),
            lang.code()
        )
    };
    let (header, mut rows) = figures.table(c.shown);
    // Names in the page's language (the CSV keeps the stable names).
    let kind_label = |k: &str| lang.try_t(&format!("kind-{k}")).unwrap_or_else(|| k.to_string());
    for row in &mut rows {
        match figures {
            Figures::Classes(_) => {
                row[1] = lang.class(&row[0], &row[1]);
                row[0] = kind_label(&row[0]);
            }
            Figures::Movements(_) => {
                for i in [1, 2] {
                    row[i] = if row[i].is_empty() {
                        "–".into()
                    } else {
                        lang.class(&row[0], &row[i])
                    };
                }
                row[0] = kind_label(&row[0]);
            }
            Figures::Satisfaction(_) => {
                row[0] = lang
                    .try_t(&format!("measure-{}", row[0]))
                    .unwrap_or_else(|| row[0].clone());
            }
            Figures::Orders(_) | Figures::ShopOrders(_) | Figures::Clv(_) => {}
        }
    }
    let charts = charts(lang, &title, &figures, &c);
    let body = html! {
        nav aria-label=(lang.t("nav-reports")) {
            ul.tabs {
                @for shown in Shown::all() {
                    li { a href=(format!("/reports?{}", query(shown, c.period, c.kind))) aria-current=[(shown == c.shown).then_some("page")] {
                        (lang.t(&format!("report-{}", shown.as_str())))
                    } }
                }
            }
            p {
                @if matches!(c.shown, Shown::Orders(_) | Shown::ShopOrders) {
                    @for g in [Granularity::Month, Granularity::Quarter, Granularity::Year] {
                        a href=(format!("/reports?{}", query(c.shown, g, c.kind))) aria-current=[(g == c.period).then_some("true")] {
                            (lang.t(&format!("period-{}", period_name(g))))
                        } " "
                    }
                }
                @if c.shown == Shown::Classes {
                    @for (kind, _) in class_kinds() {
                        a href=(format!("/reports?{}", query(c.shown, c.period, kind))) aria-current=[(kind == c.kind).then_some("true")] {
                            (lang.t(&format!("kind-{kind}")))
                        } " "
                    }
                }
                " · "
                a href=(format!("/reports.csv?{}", query(c.shown, c.period, c.kind))) download { (lang.t("export-csv")) }
            }
        }
        @match (&figures, &build) {
            (Figures::Orders(r), _) => p { (lang.t1("customers-count", "count", r.customers)) },
            (_, Some(b)) => p { (lang.t1("as-of", "date", b.as_of.with_timezone(&s.tz.0).date_naive().to_string())) },
            _ => {},
        }
        @if !charts.is_empty() { div.charts { @for chart in &charts { (chart) } } }
        table {
            thead { tr { @for h in &header { th scope="col" { (column(lang, h)) } } } }
            tbody { @for row in &rows { tr { @for cell in row { td { (cell) } } } } }
        }
    };
    Ok(html(frame(lang, Page::Reports, &here, &title, body)).into_response())
}

/// A column's label: from the catalogue (`col-NAME`), a cohort's month offset as `+k %`,
/// else the name.
fn column(lang: Lang, name: &str) -> String {
    if let Some(k) = name.strip_prefix('m').and_then(|m| m.strip_suffix("_pct")) {
        return format!("+{k} %");
    }
    lang.try_t(&format!("col-{name}")).unwrap_or_else(|| name.to_string())
}

/// The charts of a report: lines for rates over periods, a heatmap for cohorts and
/// movements, the pyramid and the quadrant for those classes, bars otherwise.
fn charts(lang: Lang, title: &str, figures: &Figures, c: &Chosen) -> Vec<Markup> {
    let pct = |v: f64| format!("{v:.1}%");
    let count = |v: f64| format!("{v:.0}");
    let yuan = crate::format::yuan_whole;
    match figures {
        Figures::Orders(r) => match c.shown {
            Shown::Orders(OrderReport::Repurchase) => {
                let points: Vec<(String, f64)> = r
                    .repurchase
                    .iter()
                    .map(|x| (x.period.clone(), x.rate * 100.0))
                    .collect();
                vec![line(title, &points, pct)]
            }
            Shown::Orders(OrderReport::Retention) => {
                let points: Vec<(String, f64)> =
                    r.retention.iter().map(|x| (x.period.clone(), x.rate * 100.0)).collect();
                vec![line(title, &points, pct)]
            }
            Shown::Orders(OrderReport::Cycles) => {
                let rows: Vec<(String, f64)> = r.cycles.iter().map(|x| (x.category.clone(), x.median_days)).collect();
                vec![bars(title, &rows, count)]
            }
            Shown::Orders(OrderReport::Cohorts) => {
                let longest = r.cohorts.iter().map(|x| x.share.len()).max().unwrap_or(0);
                let columns: Vec<String> = (0..longest).map(|k| format!("+{k}")).collect();
                let rows: Vec<(String, Vec<(f64, String)>)> = r
                    .cohorts
                    .iter()
                    .map(|x| {
                        let label = format!("{} ({})", x.month, x.customers);
                        (
                            label,
                            x.share.iter().map(|s| (*s, format!("{:.0}%", s * 100.0))).collect(),
                        )
                    })
                    .collect();
                vec![heatmap(
                    &lang.t("chart-cohorts"),
                    &lang.t("col-first_month"),
                    &columns,
                    &rows,
                )]
            }
            _ => Vec::new(),
        },
        Figures::Classes(totals) => {
            let find = |class: &str| totals.iter().find(|t| t.class == class);
            match c.kind {
                "tier" => vec![value_pyramid(lang, totals)],
                "quadrant" => {
                    let cell = |class: &str| {
                        let t = find(class);
                        (
                            lang.class("quadrant", class),
                            t.map_or(0, |t| t.customers),
                            t.map_or("¥0".into(), |t| yuan(t.profit_cents)),
                        )
                    };
                    let cells = [
                        cell("butterfly"),
                        cell("true-friend"),
                        cell("stranger"),
                        cell("barnacle"),
                    ];
                    vec![quadrant(
                        &lang.t("kind-quadrant"),
                        cells,
                        (&lang.t("axis-loyalty"), &lang.t("axis-profit")),
                    )]
                }
                kind => {
                    let customers: Vec<(String, f64)> = totals
                        .iter()
                        .map(|t| (lang.class(kind, &t.class), t.customers as f64))
                        .collect();
                    let profit: Vec<(String, f64)> = totals
                        .iter()
                        .map(|t| (lang.class(kind, &t.class), t.profit_cents as f64 / 100.0))
                        .collect();
                    vec![
                        bars(&lang.t("col-customers"), &customers, count),
                        bars(&lang.t("col-profit"), &profit, |v| format!("¥{v:.0}")),
                    ]
                }
            }
        }
        Figures::Movements(moves) => {
            // One matrix per kind: from (rows) → to (columns), shaded by the share of the
            // row's customers.
            let none = "–".to_string();
            let mut out = Vec::new();
            for (kind, _) in class_kinds() {
                let of_kind: Vec<&Movement> = moves.iter().filter(|m| m.kind == kind).collect();
                if of_kind.is_empty() {
                    continue;
                }
                let name = |c: &Option<String>| c.as_deref().map_or(none.clone(), |c| lang.class(kind, c));
                let mut froms: Vec<&Option<String>> = of_kind.iter().map(|m| &m.from).collect();
                let mut tos: Vec<&Option<String>> = of_kind.iter().map(|m| &m.to).collect();
                froms.sort();
                froms.dedup();
                tos.sort();
                tos.dedup();
                let columns: Vec<String> = tos.iter().map(|t| name(t)).collect();
                let rows = froms
                    .iter()
                    .map(|from| {
                        let row_total: u64 = of_kind.iter().filter(|m| &&m.from == from).map(|m| m.customers).sum();
                        let cells = tos
                            .iter()
                            .map(|to| {
                                let n = of_kind
                                    .iter()
                                    .find(|m| &&m.from == from && &&m.to == to)
                                    .map_or(0, |m| m.customers);
                                (
                                    n as f64 / row_total.max(1) as f64,
                                    if n > 0 { n.to_string() } else { String::new() },
                                )
                            })
                            .collect();
                        (name(from), cells)
                    })
                    .collect::<Vec<_>>();
                let corner = format!("{} ↓ {} →", lang.t("col-from"), lang.t("col-to"));
                out.push(heatmap(&lang.t(&format!("kind-{kind}")), &corner, &columns, &rows));
            }
            out
        }
        Figures::Satisfaction(_) => Vec::new(),
        Figures::Clv(buckets) => vec![clv_bars(lang, buckets)],
        Figures::ShopOrders(periods) => {
            let points: Vec<(String, f64)> = periods
                .iter()
                .map(|p| (p.period.clone(), p.payment_rate * 100.0))
                .collect();
            vec![line(&lang.t("col-payment_rate_pct"), &points, pct)]
        }
    }
}

pub async fn csv(State(s): State<AppState>, Query(p): Query<Params>) -> Result<Response, WebError> {
    let c = match p.chosen() {
        Ok(c) => c,
        Err(why) => return Ok((StatusCode::BAD_REQUEST, why).into_response()),
    };
    let Some((figures, _)) = Figures::load(&s, &c).await? else {
        return Ok((StatusCode::CONFLICT, "no profile build yet: guanxi profile build").into_response());
    };
    let (header, rows) = figures.table(c.shown);
    let mut w = csv::Writer::from_writer(Vec::new());
    let written = w
        .write_record(&header)
        .and_then(|_| rows.iter().try_for_each(|row| w.write_record(row)));
    let bytes = written
        .map_err(|e| WebError::Analytics(e.to_string()))
        .and_then(|_| w.into_inner().map_err(|e| WebError::Analytics(e.to_string())))?;
    let name = match c.shown {
        Shown::Orders(r) => format!("{}-{}.csv", r.as_str(), period_name(c.period)),
        Shown::ShopOrders => format!("orders-{}.csv", period_name(c.period)),
        Shown::Classes => format!("classes-{}.csv", c.kind),
        other => format!("{}.csv", other.as_str()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}
