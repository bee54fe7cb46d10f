//! `guanxi report …`: the class changes recorded between profile builds, and the reports
//! over paid orders (repurchase, categories, retention, cohorts, purchase cycles).

use std::collections::BTreeMap;

use guanxi_analytics::{Engine, ReportsBasis};
use guanxi_domain::profile::ClassKind;
use guanxi_domain::report::{Granularity, OrderReport};
use guanxi_store::{ClassTotal, Movement, tables};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{Global, OrderReportArgs, PeriodArg, ReportCommand};
use crate::commands::default_db;
use crate::open::open;
use crate::output::{BadInput, report};

#[derive(Serialize)]
struct Movements {
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Per class kind: every (from, to) pair with how many customers moved.
    kinds: BTreeMap<String, Vec<Movement>>,
}

pub async fn run(global: &Global, cmd: ReportCommand) -> anyhow::Result<()> {
    let (which, args) = match cmd {
        ReportCommand::Movements { since, csv } => return movements(global, since, csv).await,
        ReportCommand::Orders { period, csv } => return shop_orders(global, period, csv).await,
        ReportCommand::Repurchase(a) => (OrderReport::Repurchase, a),
        ReportCommand::Categories(a) => (OrderReport::Categories, a),
        ReportCommand::Retention(a) => (OrderReport::Retention, a),
        ReportCommand::Cohorts(a) => (OrderReport::Cohorts, a),
        ReportCommand::Cycles(a) => (OrderReport::Cycles, a),
        ReportCommand::Classes { kind, csv } => return classes(global, kind, csv).await,
        ReportCommand::Satisfaction { as_of, csv } => return satisfaction(global, as_of, csv).await,
        ReportCommand::Clv { csv } => return clv(global, csv).await,
    };
    orders(global, which, args).await
}

async fn classes(global: &Global, kind: Option<String>, csv: bool) -> anyhow::Result<()> {
    if let Some(k) = kind.as_deref().filter(|k| ClassKind::parse(k).is_err()) {
        return Err(BadInput {
            code: "bad_kind",
            message: format!("--kind: expected one of {}, found {k:?}", guanxi_store::class_columns()),
        }
        .into());
    }
    let o = open(global, default_db()).await?;
    let build = guanxi_app::profiles::current_build(o.store.as_ref()).await?;
    let totals: Vec<ClassTotal> = o
        .store
        .class_totals()
        .await?
        .into_iter()
        .filter(|t| kind.as_deref().is_none_or(|k| t.kind == k))
        .collect();
    let (header, rows) = tables::classes(&totals);
    let doc = json!({ "build_id": build.id, "as_of": build.as_of, "classes": totals });
    let title = format!("classes of build {} as of {}", build.id, build.as_of.date_naive());
    print_table(global.json, csv, &doc, &title, &header, rows)
}

async fn satisfaction(global: &Global, as_of: Option<String>, csv: bool) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let engine = Engine::open(&o.lake).await?;
    let as_of = guanxi_app::profiles::as_of_or_last(&engine, o.tz, as_of.as_deref(), "--as-of").await?;
    let s = o.store.satisfaction(as_of).await?;
    let (header, rows) = tables::satisfaction(&s);
    let mut doc = serde_json::to_value(&s)?;
    if let Some(d) = doc.as_object_mut() {
        d.insert("as_of".into(), json!(as_of));
    }
    let title = format!("satisfaction up to {}", as_of.date_naive());
    print_table(global.json, csv, &doc, &title, &header, rows)
}

async fn clv(global: &Global, csv: bool) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let build = guanxi_app::profiles::current_build(o.store.as_ref()).await?;
    let buckets = o.store.clv_distribution().await?;
    let (header, rows) = tables::clv(&buckets);
    let doc = json!({ "build_id": build.id, "as_of": build.as_of, "buckets": buckets });
    let title = format!("predicted CLV of build {} as of {}", build.id, build.as_of.date_naive());
    print_table(global.json, csv, &doc, &title, &header, rows)
}

/// Prints a report: its JSON document, its table as CSV, or the table as text under a
/// title.
fn print_table(
    json: bool,
    csv: bool,
    doc: &Value,
    title: &str,
    header: &[String],
    rows: Vec<Vec<String>>,
) -> anyhow::Result<()> {
    if csv {
        let mut w = csv::Writer::from_writer(std::io::stdout().lock());
        w.write_record(header)?;
        for row in &rows {
            w.write_record(row)?;
        }
        w.flush()?;
        return Ok(());
    }
    report(json, doc, |_| format!("{title}\n{}", text_table(header, &rows)))
}

async fn movements(global: &Global, since: Option<String>, csv: bool) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let since = since
        .map(|d| guanxi_app::profiles::end_of_day(&d, o.tz, "--since"))
        .transpose()?;
    let moves = o.store.movements(since).await?;
    if csv {
        let (header, rows) = tables::movements(&moves);
        return print_table(false, true, &Value::Null, "", &header, rows);
    }
    let mut kinds: BTreeMap<String, Vec<Movement>> = BTreeMap::new();
    for m in moves {
        kinds.entry(m.kind.clone()).or_default().push(m);
    }
    report(global.json, &Movements { since, kinds }, movements_text)
}

async fn orders(global: &Global, which: OrderReport, args: OrderReportArgs) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let granularity = granularity(args.period);
    let merged = o.store.merged_into().await?;
    let (settings, _) = super::config::load(global)?;
    let gap = settings.cycle.occasion_gap();
    let r = match args.as_of.as_deref() {
        // As of the last order: the shop's reports, kept while the lake is unchanged.
        None => guanxi_analytics::current_shop_reports(&o.lake, o.tz, ReportsBasis::of(&o.lake, &merged, o.tz, gap)?)
            .await?
            .and_then(|s| s.reports(granularity).cloned())
            .ok_or_else(guanxi_app::profiles::empty_lake)?,
        Some(date) => {
            let engine = Engine::open(&o.lake).await?;
            let as_of = guanxi_app::profiles::end_of_day(date, o.tz, "--as-of")?;
            guanxi_analytics::order_reports(&engine, as_of, o.tz, &merged, granularity, gap).await?
        }
    };
    let (header, rows) = r.table(which);
    let title = format!(
        "{} as of {} ({} customers, {} paid orders)",
        format!("{which:?}").to_lowercase(),
        r.as_of.date_naive(),
        r.customers,
        r.orders
    );
    print_table(
        global.json,
        args.csv,
        &serde_json::to_value(r.document(which))?,
        &title,
        &header,
        rows,
    )
}

/// `guanxi report orders`: every order, guest orders included, per period.
async fn shop_orders(global: &Global, period: PeriodArg, csv: bool) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let granularity = granularity(period);
    let merged = o.store.merged_into().await?;
    let (settings, _) = super::config::load(global)?;
    let periods = guanxi_analytics::current_shop_reports(
        &o.lake,
        o.tz,
        ReportsBasis::of(&o.lake, &merged, o.tz, settings.cycle.occasion_gap())?,
    )
    .await?
    .and_then(|s| s.figures(granularity).map(<[_]>::to_vec))
    .unwrap_or_default();
    let (header, rows) = guanxi_domain::report::OrderFigures::table(&periods);
    let total: u64 = periods.iter().map(|p| p.created).sum();
    let title = format!("orders by {granularity:?} ({total} orders, guest orders included)").to_lowercase();
    let doc = json!({ "granularity": granularity, "periods": periods });
    print_table(global.json, csv, &doc, &title, &header, rows)
}

fn granularity(period: PeriodArg) -> Granularity {
    match period {
        PeriodArg::Month => Granularity::Month,
        PeriodArg::Quarter => Granularity::Quarter,
        PeriodArg::Year => Granularity::Year,
    }
}

/// A table as aligned text, right-aligned columns.
fn text_table(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row.get(i).map_or(0, |c| c.chars().count()))
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            l += &format!(" {c:>w$}", w = widths[i]);
        }
        l + "\n"
    };
    let mut out = line(header);
    for row in rows {
        out += &line(row);
    }
    out
}

fn movements_text(m: &Movements) -> String {
    if m.kinds.is_empty() {
        return "no class changes recorded: they appear from the second profile build on\n".into();
    }
    let mut out = String::new();
    for (kind, moves) in &m.kinds {
        let total: u64 = moves.iter().map(|m| m.customers).sum();
        out += &format!("{kind} ({total} changes)\n");
        for mv in moves {
            out += &format!(
                "  {:>16} → {:<16} {}\n",
                mv.from.as_deref().unwrap_or("(none)"),
                mv.to.as_deref().unwrap_or("(none)"),
                mv.customers
            );
        }
    }
    out
}
