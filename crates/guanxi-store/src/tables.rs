//! The reports over the stored build as tables (a header and rows of text), defined once
//! for the CLI's text and CSV and the web's tables and CSV.

use crate::{ClassTotal, ClvBucket, Movement, Satisfaction};

/// A header and its rows.
pub type Table = (Vec<String>, Vec<Vec<String>>);

fn head(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

/// Exact, from the integer cents (the domain's money display), never through a float.
fn yuan(cents: i64) -> String {
    guanxi_domain::Cents(cents).to_string()
}

/// The shop's order figures per period over every stored order, guest orders included
/// (`guanxi report orders` and the web's orders report): one pass, a page at a time.
pub async fn order_figures(
    store: &dyn crate::Store,
    tz: guanxi_domain::ShopTz,
    granularity: guanxi_domain::report::Granularity,
) -> crate::Result<Vec<guanxi_domain::report::PeriodOrders>> {
    let mut figures = guanxi_domain::report::OrderFigures::new(tz, granularity);
    let mut after = 0;
    loop {
        let page = store.orders_after(after, 2000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for s in &page {
            figures.add(&s.order);
        }
    }
    Ok(figures.finish())
}

/// Customers, paid amount, profit and predicted CLV per class.
pub fn classes(totals: &[ClassTotal]) -> Table {
    let rows = totals
        .iter()
        .map(|t| {
            vec![
                t.kind.clone(),
                t.class.clone(),
                t.customers.to_string(),
                yuan(t.paid_amount_cents),
                yuan(t.profit_cents),
                yuan(t.clv_cents),
            ]
        })
        .collect();
    (
        head(&["kind", "class", "customers", "paid_amount", "profit", "clv"]),
        rows,
    )
}

/// One measure per row.
pub fn satisfaction(s: &Satisfaction) -> Table {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    let rows = vec![
        vec!["paid_orders".into(), s.paid_orders.to_string()],
        vec!["reviews".into(), s.reviews.to_string()],
        vec!["item_rating".into(), opt(s.item_rating)],
        vec!["service_rating".into(), opt(s.service_rating)],
        vec!["logistics_rating".into(), opt(s.logistics_rating)],
        vec!["complaints".into(), s.complaints.to_string()],
        vec!["complaints_per_100_orders".into(), format!("{:.3}", s.complaint_rate)],
        vec!["service_satisfaction".into(), opt(s.service_satisfaction)],
    ];
    (head(&["measure", "value"]), rows)
}

/// Customers and predicted CLV per bucket, bounds in yuan.
pub fn clv(buckets: &[ClvBucket]) -> Table {
    let whole = |c: i64| format!("{:.0}", c as f64 / 100.0);
    let rows = buckets
        .iter()
        .map(|b| {
            vec![
                whole(b.from_cents),
                b.to_cents.map_or(String::new(), whole),
                b.customers.to_string(),
                yuan(b.clv_cents),
            ]
        })
        .collect();
    (head(&["from", "to", "customers", "clv"]), rows)
}

/// Every recorded (kind, from, to) change with its customers; a missing class is empty.
pub fn movements(moves: &[Movement]) -> Table {
    let rows = moves
        .iter()
        .map(|m| {
            vec![
                m.kind.clone(),
                m.from.clone().unwrap_or_default(),
                m.to.clone().unwrap_or_default(),
                m.customers.to_string(),
            ]
        })
        .collect();
    (head(&["kind", "from", "to", "customers"]), rows)
}
