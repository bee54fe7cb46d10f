//! Shopify's admin "Export orders" CSV: one row per line item; only an order's first row
//! carries the order fields (financial status, totals, dates), later rows repeat the
//! order name and the line item. Columns are found by name, so exports with more or
//! fewer columns read the same.

use guanxi_domain::{Cents, Email, Mobile, OrderLine, OrderStatus, StatusTimes};

use super::{Context, First, Head, OrderFormat, OrderRow, column_text};
use crate::problem::Problem;
use crate::table::{Columns, Header, Row, fields};

const REQUIRED: &[&str] = &["Name", "Created at", "Lineitem quantity", "Lineitem price"];
const COLUMNS: [&str; 24] = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Currency",
    "Shipping",
    "Discount Code",
    "Discount Amount",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
    "Lineitem discount",
    "Shipping Province Name",
    "Shipping Province",
    "Shipping City",
    "Billing Province",
    "Billing City",
    "Phone",
    "Refunded Amount",
    "Cancelled at",
];

#[derive(Default)]
pub(crate) struct Shopify {
    cols: Option<Columns<24>>,
}

pub(crate) fn status(financial: &str, fulfilled: bool, cancelled: bool) -> Result<OrderStatus, String> {
    if cancelled {
        return Ok(OrderStatus::Closed);
    }
    Ok(match financial.to_ascii_lowercase().as_str() {
        "pending" | "authorized" => OrderStatus::Created,
        "paid" | "partially_paid" | "partially_refunded" if fulfilled => OrderStatus::Shipped,
        "paid" | "partially_paid" | "partially_refunded" => OrderStatus::Paid,
        "refunded" => OrderStatus::Refunded,
        "voided" | "expired" => OrderStatus::Closed,
        other => {
            return Err(format!(
                "expected a financial status of pending, authorized, paid, partially_paid, partially_refunded, refunded, voided or expired, found {other:?}"
            ));
        }
    })
}

/// Who a Shopify buyer is: the e-mail, lower-cased (e-mail identity ignores case, and
/// exports carry one address in several casings), else the mobile number normalised;
/// `None` when neither is usable. A leading `'` (a spreadsheet's guard) is dropped.
pub(crate) fn buyer(email: Option<&str>, phone: Option<&str>) -> Option<String> {
    let unguard = |s: &str| s.trim().trim_start_matches('\'').to_string();
    if let Some(Ok(e)) = email.map(|e| Email::parse(&unguard(e))) {
        return Some(e.as_str().to_lowercase());
    }
    phone
        .and_then(|p| Mobile::parse(&unguard(p)).ok())
        .map(|m| m.as_str().to_string())
}

impl OrderFormat for Shopify {
    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem> {
        self.cols = Some(Header::read(row)?.columns(&row.at, REQUIRED, COLUMNS)?);
        Ok(First::Header)
    }

    fn order_id(&self, row: &Row<'_>) -> Option<String> {
        column_text(row, self.cols.as_ref()?.index[0].1)
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<OrderRow, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        let order_id = f.req(0)?.into_owned();
        let quantity = f
            .quantity(11)?
            .ok_or_else(|| f.problem(11, "a value is required here"))?;
        let price = f.money(13)?.ok_or_else(|| f.problem(13, "a value is required here"))?;
        let line_discount = f.money(15)?.unwrap_or(Cents::ZERO);
        let gross = price
            .times(i64::from(quantity))
            .ok_or_else(|| f.problem(11, format!("{quantity} × {price} is more than any order")))?;
        if line_discount > gross {
            return Err(f.problem(15, format!("discount {line_discount} exceeds the line's {gross}")));
        }
        let line = OrderLine {
            sku: f.opt_string(14)?,
            title: f.opt_string(12)?,
            category: None,
            quantity,
            amount: gross - line_discount,
            discount: line_discount,
            cost: None,
            refund: Cents::ZERO,
        };
        let Some(financial) = f.opt(2)? else {
            return Ok(OrderRow {
                order_id,
                head: None,
                line,
                more: Vec::new(),
            });
        };
        let created_at = f
            .time(10, cx.tz)?
            .ok_or_else(|| f.problem(10, "a value is required on an order's first row"))?;
        // Without a usable e-mail or phone the order is a guest's (a POS sale, a
        // marketplace order): kept for the shop's figures, in no customer's profile.
        let customer_id = buyer(f.opt(1)?.as_deref(), f.opt(21)?.as_deref());
        let cancelled_at = f.time(23, cx.tz)?;
        let fulfilled_at = f.time(5, cx.tz)?;
        let fulfilled = f.opt(4)?.is_some_and(|s| s.eq_ignore_ascii_case("fulfilled"));
        let status = status(&financial, fulfilled, cancelled_at.is_some()).map_err(|e| f.problem(2, e))?;
        let province = match f.opt_string(16)? {
            Some(p) => Some(p),
            None => f.opt_string(17)?.or(f.opt_string(19)?),
        };
        let head = Head {
            customer_id,
            status,
            created_at,
            times: StatusTimes {
                paid_at: f.time(3, cx.tz)?,
                shipped_at: if fulfilled { fulfilled_at } else { None },
                closed_at: cancelled_at,
                ..Default::default()
            },
            shipping_fee: f.money(7)?.unwrap_or(Cents::ZERO),
            currency: f.opt_string(6)?,
            coupon: f.opt_string(8)?,
            campaign: None,
            province,
            city: f.opt_string(18)?.or(f.opt_string(20)?),
            order_discount: f.money(9)?.unwrap_or(Cents::ZERO),
            order_refund: f.money(22)?.unwrap_or(Cents::ZERO),
        };
        Ok(OrderRow {
            order_id,
            head: Some(head),
            line,
            more: Vec::new(),
        })
    }
}
