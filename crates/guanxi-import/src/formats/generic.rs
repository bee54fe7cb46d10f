//! The generic CSV: one row per order line (documented in the README).

use guanxi_domain::{Cents, OrderLine, OrderStatus, StatusTimes};

use super::{Context, First, Head, OrderFormat, OrderRow, column_text};
use crate::problem::Problem;
use crate::table::{Columns, Header, Row, fields};

pub(crate) const REQUIRED: &[&str] = &["order_id", "customer_id", "ordered_at", "amount"];
pub(crate) const COLUMNS: [&str; 25] = [
    "order_id",
    "customer_id",
    "ordered_at",
    "amount",
    "paid_at",
    "status",
    "cost",
    "discount",
    "shipping_fee",
    "category",
    "sku",
    "title",
    "quantity",
    "province",
    "city",
    "coupon",
    "campaign",
    "refund",
    "shipped_at",
    "arrived_at",
    "signed_at",
    "completed_at",
    "closed_at",
    "refunded_at",
    "currency",
];

#[derive(Default)]
pub(crate) struct Generic {
    cols: Option<Columns<25>>,
}

impl OrderFormat for Generic {
    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem> {
        let header = Header::read(row)?;
        header.reject_unknown(&row.at, &COLUMNS)?;
        self.cols = Some(header.columns(&row.at, REQUIRED, COLUMNS)?);
        Ok(First::Header)
    }

    fn order_id(&self, row: &Row<'_>) -> Option<String> {
        column_text(row, self.cols.as_ref()?.index[0].1)
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<OrderRow, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        let order_id = f.req(0)?.into_owned();
        // An empty customer id is a guest order: counted for the shop, in no profile.
        let customer_id = f.opt_string(1)?;
        let created_at = f
            .time(2, cx.tz)?
            .ok_or_else(|| f.problem(2, "a value is required here"))?;
        let amount = f.money(3)?.ok_or_else(|| f.problem(3, "a value is required here"))?;
        let paid_at = f.time(4, cx.tz)?;
        let explicit = f.parse(5, |s| OrderStatus::parse(&s.to_ascii_lowercase()))?;
        // Without a status column a row records a sale: paid, at paid_at or else ordered_at.
        let (status, paid_at) = match explicit {
            Some(s) => (s, paid_at),
            None => (OrderStatus::Paid, paid_at.or(Some(created_at))),
        };
        let quantity = f.quantity(12)?.unwrap_or(1);
        let line = OrderLine {
            sku: f.opt_string(10)?,
            title: f.opt_string(11)?,
            category: f.opt_string(9)?,
            quantity,
            amount,
            discount: f.money(7)?.unwrap_or(Cents::ZERO),
            cost: f.money(6)?,
            refund: f.money(17)?.unwrap_or(Cents::ZERO),
        };
        let head = Head {
            customer_id,
            status,
            created_at,
            times: StatusTimes {
                paid_at,
                shipped_at: f.time(18, cx.tz)?,
                arrived_at: f.time(19, cx.tz)?,
                signed_at: f.time(20, cx.tz)?,
                completed_at: f.time(21, cx.tz)?,
                closed_at: f.time(22, cx.tz)?,
                refunded_at: f.time(23, cx.tz)?,
            },
            shipping_fee: f.money(8)?.unwrap_or(Cents::ZERO),
            currency: f.opt_string(24)?,
            coupon: f.opt_string(15)?,
            campaign: f.opt_string(16)?,
            province: f.opt_string(13)?,
            city: f.opt_string(14)?,
            order_discount: Cents::ZERO,
            order_refund: Cents::ZERO,
        };
        Ok(OrderRow {
            order_id,
            head: Some(head),
            line,
            more: Vec::new(),
        })
    }
}
