//! The file formats: each turns rows into records. Order formats yield [`OrderRow`]s that
//! the assembler (`crate::orders`) groups into orders; the others yield records directly.

pub(crate) mod catalogue;
pub(crate) mod cdnow;
pub(crate) mod customers;
pub mod generic;
pub(crate) mod reviews;
pub(crate) mod service;
pub(crate) mod shopify;
pub(crate) mod shopify_customers;
pub(crate) mod taobao;

use chrono::{DateTime, Utc};
use guanxi_domain::{Cents, Order, OrderLine, OrderStatus, ShopTz, Source, StatusTimes};

use crate::problem::Problem;
use crate::table::Row;

/// What a format needs to know besides the row.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub source: Source,
    pub tz: ShopTz,
}

/// The order-level fields of a row. Rows of one order must agree on them (or, where a
/// format writes them on the first line only, leave them out: `head: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// The buyer's id; `None` for a guest order (no buyer the file identifies).
    pub customer_id: Option<String>,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub times: StatusTimes,
    pub shipping_fee: Cents,
    pub currency: Option<String>,
    pub coupon: Option<String>,
    pub campaign: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    /// An order-level discount and refund to spread over the lines (Shopify).
    pub order_discount: Cents,
    pub order_refund: Cents,
}

impl Head {
    /// The first field in which two heads differ, with both values, for the message.
    pub fn differs(&self, other: &Head) -> Option<(&'static str, String, String)> {
        macro_rules! cmp {
            ($($f:ident),+) => {$(
                if self.$f != other.$f {
                    return Some((stringify!($f), format!("{:?}", self.$f), format!("{:?}", other.$f)));
                }
            )+};
        }
        if self.customer_id != other.customer_id {
            let show = |c: &Option<String>| c.as_ref().map_or("none (a guest order)".into(), |c| format!("{c:?}"));
            return Some(("customer_id", show(&self.customer_id), show(&other.customer_id)));
        }
        // Times within a minute of each other are one moment: an ERP writes an invoice's
        // lines as its clock ticks (the UCI Online Retail log has one invoice over two
        // minutes). The order keeps its first row's times.
        let near = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) => (a - b).num_seconds().abs() <= 60,
            (a, b) => a == b,
        };
        let times = |h: &Head| {
            std::iter::once(Some(h.created_at))
                .chain(h.times.all())
                .collect::<Vec<_>>()
        };
        if !times(self).into_iter().zip(times(other)).all(|(a, b)| near(a, b)) {
            cmp!(created_at, times);
        }
        cmp!(status, shipping_fee, currency, coupon, campaign, province, city);
        cmp!(order_discount, order_refund);
        None
    }
}

/// One row of an order file: which order, its order-level fields if the row carries
/// them, and its line.
#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    pub order_id: String,
    pub head: Option<Head>,
    pub line: OrderLine,
    /// Further lines the row stands for (a Taobao order row whose items come from the
    /// item report).
    pub more: Vec<OrderLine>,
}

/// What the first row of a file was.
pub(crate) enum First {
    Header,
    /// A headerless format whose first row is data (the CDNOW files).
    Data,
}

pub(crate) trait OrderFormat {
    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem>;
    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<OrderRow, Problem>;

    /// The row's order id, read on its own, when [`OrderFormat::row`] failed: the other
    /// rows of that order are then rejected with it.
    fn order_id(&self, _row: &Row<'_>) -> Option<String> {
        None
    }

    /// Why a row cannot be an order at all, when it has no time: such rows (in mapped
    /// logs only) are counted and named, not imported, instead of failing the file.
    fn undated(&self, _row: &Row<'_>) -> Option<String> {
        None
    }

    /// What the file showed that the shop should know but that stops nothing (Taobao:
    /// items that do not account for what was paid), taken when the file ends.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Completes an assembled order (spreads order-level discounts and refunds).
    fn finish(&self, order: &mut Order, head: &Head) {
        spread(order, head.order_discount, |l, c| {
            l.discount = l.discount + c;
            l.amount = l.amount - c;
        });
        spread(order, head.order_refund, |l, c| l.refund = l.refund + c);
    }
}

/// Spreads an order-level amount over the lines in proportion to their amounts, the
/// rounding remainder on the last line, so the parts add up to the whole exactly.
fn spread(order: &mut Order, total: Cents, mut apply: impl FnMut(&mut OrderLine, Cents)) {
    if total == Cents::ZERO || order.lines.is_empty() {
        return;
    }
    let base: i64 = order.lines.iter().map(|l| l.amount.0).sum();
    let n = order.lines.len();
    let mut given = 0;
    for (i, line) in order.lines.iter_mut().enumerate() {
        let part = if i + 1 == n {
            total.0 - given
        } else if base > 0 {
            (i128::from(total.0) * i128::from(line.amount.0) / i128::from(base)) as i64
        } else {
            total.0 / n as i64
        };
        given += part;
        apply(line, Cents(part));
    }
}

/// Tags from one field, split at `separators`, trimmed, sorted, each once.
pub(crate) fn tags(text: Option<&str>, separators: &[char]) -> Vec<String> {
    let mut tags: Vec<String> = text
        .map(|t| {
            t.split(separators)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    tags.dedup();
    tags
}

/// The text of the column at `index` (the order id column of a format), if readable.
pub(crate) fn column_text(row: &Row<'_>, index: Option<usize>) -> Option<String> {
    let i = index?;
    row.text(i, "").ok().map(|t| t.into_owned()).filter(|t| !t.is_empty())
}

/// Record formats other than orders.
pub(crate) trait RecordFormat {
    type Record;
    fn header(&mut self, row: &Row<'_>) -> Result<(), Problem>;
    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<Self::Record, Problem>;
    /// The record's external id, to reject the same id twice in one import.
    fn id(record: &Self::Record) -> std::borrow::Cow<'_, str>;
}
