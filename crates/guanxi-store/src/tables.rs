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
        let page = store.order_summaries(after, 10_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, o) in &page {
            figures.add_summary(o);
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

/// Which contact details an export may show: all of them (the shop's owner on the
/// machine), or masked (`138****5678`, `a***@example.com`) for whoever may see customers
/// but not reach them outside guanxi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactView {
    Full,
    Masked,
}

/// The columns of a customers export: who (contacts per [`ContactView`]), consent per
/// channel, tags, then every class, measure and forecast of the current build. Money in
/// yuan with two decimals; times in RFC 3339; an empty field where the value is unknown.
pub const CUSTOMER_EXPORT_HEADER: [&str; 45] = {
    const WHO: [&str; 15] = [
        "id",
        "source",
        "external_id",
        "name",
        "mobile",
        "email",
        "phone",
        "wechat",
        "qq",
        "province",
        "city",
        "consent_sms",
        "consent_email",
        "consent_wechat",
        "tags",
    ];
    const MEASURES: [&str; 22] = [
        "r",
        "f",
        "m",
        "recency_days",
        "paid_orders",
        "frequency",
        "cycle_days",
        "discount_share",
        "complaint_count",
        "praise_count",
        "paid_amount",
        "profit",
        "refunds",
        "monetary",
        "won_back",
        "upgrade_potential",
        "first_paid_at",
        "last_paid_at",
        "p_alive",
        "expected_purchases",
        "clv",
        "next_purchase_at",
    ];
    // Who, then the classes in the profile's order, then the measures and forecast.
    let mut all = [""; 45];
    let mut i = 0;
    while i < 45 {
        all[i] = if i < 15 {
            WHO[i]
        } else if i < 23 {
            guanxi_domain::profile::ClassKind::ALL[i - 15].as_str()
        } else {
            MEASURES[i - 23]
        };
        i += 1;
    }
    all
};

/// One customer's row of the export, in [`CUSTOMER_EXPORT_HEADER`]'s order.
pub fn customer_export_row(x: &crate::ProfiledCustomer, view: ContactView) -> Vec<String> {
    use guanxi_domain::{Channel, masked};
    let c = &x.customer;
    let p = &x.profile;
    let contact = |raw: Option<&str>| match (raw, view) {
        (None, _) => String::new(),
        (Some(r), ContactView::Full) => r.to_string(),
        (Some(r), ContactView::Masked) => masked(r),
    };
    let consent = |ch: Channel| {
        c.consents
            .iter()
            .find(|k| k.channel == ch)
            .map_or("unknown", |k| k.state.as_str())
            .to_string()
    };
    let opt = |v: Option<String>| v.unwrap_or_default();
    let int = |v: Option<i64>| opt(v.map(|v| v.to_string()));
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| opt(t.map(|t| t.to_rfc3339()));
    let real = |v: Option<f64>| opt(v.map(|v| format!("{v:.4}")));
    let mut row = vec![
        x.id.to_string(),
        c.key.source.as_str().to_string(),
        c.key.external_id.clone(),
        opt(c.name.clone()),
        contact(c.mobile.as_ref().map(|m| m.raw.as_str())),
        contact(c.email.as_ref().map(|e| e.raw.as_str())),
        contact(c.phone.as_deref()),
        contact(c.wechat.as_deref()),
        contact(c.qq.as_deref()),
        opt(c.province.clone()),
        opt(c.city.clone()),
        consent(Channel::Sms),
        consent(Channel::Email),
        consent(Channel::Wechat),
        c.tags.join(";"),
    ];
    row.extend(p.classes.iter().map(|k| opt(k.clone())));
    row.extend([
        int(p.r),
        int(p.f),
        int(p.m),
        int(p.recency_days),
        p.paid_orders.to_string(),
        p.frequency.to_string(),
        real(p.cycle_days),
        format!("{:.4}", p.discount_share),
        p.complaint_count.to_string(),
        p.praise_count.to_string(),
        yuan(p.paid_amount_cents),
        yuan(p.profit_cents),
        yuan(p.refunds_cents),
        yuan(p.monetary_cents),
        p.won_back.to_string(),
        p.upgrade_potential.to_string(),
        time(p.first_paid_at),
        time(p.last_paid_at),
        real(p.p_alive),
        real(p.expected_purchases),
        opt(p.clv_cents.map(yuan)),
        time(p.next_purchase_at),
    ]);
    row
}

/// One page of a customers export: the rows of the members with `id > after` (every
/// profiled customer without an expression) and where the next page starts (`None`
/// after the last). The CLI writes pages to a file, the web streams them.
pub async fn customer_export_page(
    store: &dyn crate::Store,
    expr: Option<&guanxi_domain::segment::Expr>,
    as_of: chrono::DateTime<chrono::Utc>,
    after: i64,
    view: ContactView,
) -> crate::Result<(Vec<Vec<String>>, Option<i64>)> {
    const PAGE: u32 = 1000;
    let page = store.profiled_customers(expr, as_of, after, PAGE).await?;
    let next = (page.len() == PAGE as usize)
        .then(|| page.last().map(|x| x.id))
        .flatten();
    Ok((page.iter().map(|x| customer_export_row(x, view)).collect(), next))
}
