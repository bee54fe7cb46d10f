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

/// What a mapped file may also give: the price of one item (the line's amount is then
/// quantity × price).
const READ: [&str; 26] = {
    let mut read = [""; 26];
    let mut i = 0;
    while i < 25 {
        read[i] = COLUMNS[i];
        i += 1;
    }
    read[25] = "unit_price";
    read
};

/// A file of any layout read through a mapping of guanxi's fields to its columns
/// (`--map order_id=InvoiceNo,customer_id=CustomerID,…`): an ERP export or a purchase
/// log. Columns not mapped are not read. Without `order_id` each row is an order, its id
/// `customer-ordered_at-rank` (rank among the buyer's rows at that time); negative
/// quantities are returned lines: an order of them is a return, imported closed (it is
/// no sale), its lines' amounts as refunds.
#[derive(Debug, Clone, Default)]
pub struct Mapping(pub Vec<(String, String)>);

impl Mapping {
    /// Whether the mapping gives amounts (else every line's amount is 0: a log of
    /// purchase dates alone).
    pub fn has_amounts(&self) -> bool {
        self.0.iter().any(|(f, _)| f == "amount" || f == "unit_price")
    }

    /// Parses `field=Column,field=Column`; fields are guanxi's generic columns or
    /// `unit_price`.
    pub fn parse(s: &str) -> Result<Mapping, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, column) = part
                .split_once('=')
                .ok_or_else(|| format!("expected field=Column, found {part:?}"))?;
            let field = field.trim();
            if !READ.contains(&field) {
                return Err(format!("{field:?} is not a field; the fields are: {}", READ.join(", ")));
            }
            if pairs.iter().any(|(f, _)| f == field) {
                return Err(format!("{field} is mapped twice"));
            }
            pairs.push((field.to_string(), column.trim().to_string()));
        }
        if pairs.is_empty() {
            return Err("expected field=Column pairs, found nothing".into());
        }
        Ok(Mapping(pairs))
    }
}

#[derive(Default)]
pub(crate) struct Generic {
    cols: Option<Columns<26>>,
    mapping: Option<std::sync::Arc<Mapping>>,
    /// Without a mapped order id: rows already seen per (buyer, time), for the rank.
    ranks: std::collections::HashMap<(String, String), u32>,
}

impl Generic {
    pub fn mapped(mapping: Option<std::sync::Arc<Mapping>>) -> Generic {
        Generic {
            mapping,
            ..Default::default()
        }
    }

    fn mapped_order_id(&self) -> bool {
        self.cols.as_ref().is_some_and(|c| c.index[0].1.is_some())
    }
}

impl OrderFormat for Generic {
    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem> {
        let mut header = Header::read(row)?;
        let Some(mapping) = &self.mapping else {
            header.reject_unknown(&row.at, &COLUMNS)?;
            self.cols = Some(header.columns(&row.at, REQUIRED, READ)?);
            return Ok(First::Header);
        };
        // The file's columns renamed to guanxi's fields; the others are not read.
        let mut named = vec![String::new(); header.names.len()];
        for (field, column) in &mapping.0 {
            let i = header.find(column).ok_or_else(|| {
                row.at.line(format!(
                    "--map {field}={column}: the header has no column {column:?}; it has: {}",
                    header.names.join(", ")
                ))
            })?;
            named[i] = field.clone();
        }
        header.names = named;
        self.cols = Some(header.columns(&row.at, &["ordered_at"], READ)?);
        Ok(First::Header)
    }

    fn order_id(&self, row: &Row<'_>) -> Option<String> {
        column_text(row, self.cols.as_ref()?.index[0].1)
    }

    /// A log's row with an empty `ordered_at` (the Taobao book shop's unpaid orders have
    /// an empty payment time and no other) cannot be placed in any period.
    fn undated(&self, row: &Row<'_>) -> Option<String> {
        self.mapping.as_ref()?;
        let column = self.cols.as_ref()?.index[2].1?;
        let empty = row.text(column, "ordered_at").is_ok_and(|t| t.is_empty());
        empty.then(|| "ordered_at is empty: nothing says when this order was placed".to_string())
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<OrderRow, Problem> {
        if self.mapping.is_some() {
            return self.mapped_row(row, cx);
        }
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
        let (status, paid_at) = Sale::status(explicit, paid_at, created_at, false);
        let quantity = f.quantity(12)?.unwrap_or(1);
        let sale = Sale {
            order_id,
            customer_id,
            created_at,
            status,
            paid_at,
            quantity,
            amount,
            returned: false,
        };
        sale.row(&f, cx)
    }
}

impl Generic {
    /// A row of a mapped file (see [`Mapping`]).
    fn mapped_row(&mut self, row: &Row<'_>, cx: &Context) -> Result<OrderRow, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        let customer_id = f.opt_string(1)?;
        let created_at = f
            .time(2, cx.tz)?
            .ok_or_else(|| f.problem(2, "a value is required here"))?;
        let order_id = match f.opt_string(0)? {
            Some(id) => id,
            None if self.mapped_order_id() => return Err(f.problem(0, "a value is required here")),
            None => {
                let key = (customer_id.clone().unwrap_or_default(), f.req(2)?.into_owned());
                let rank = self.ranks.entry(key.clone()).or_insert(0);
                *rank += 1;
                format!("{}-{}-{rank}", key.0, key.1)
            }
        };
        let quantity: i64 = match f.opt(12)? {
            Some(q) => q
                .parse()
                .map_err(|_| f.problem(12, format!("expected a whole number, found {q:?}")))?,
            None => 1,
        };
        let count = u32::try_from(quantity.unsigned_abs())
            .map_err(|_| f.problem(12, format!("{quantity} items is more than any order")))?;
        let price = f.parse(25, |p| line_total(quantity, p))?;
        // A negative quantity or price (a cancellation, a write-off, a bad-debt
        // adjustment) makes the line a return.
        let returned = quantity < 0 || price.is_some_and(|(_, negative)| negative);
        let amount = match (f.money(3)?, price) {
            (Some(a), _) => a,
            (None, Some((total, _))) => total,
            // A log of purchase dates alone (the import warns that spend is unknown).
            (None, None) if !self.mapping.as_ref().is_some_and(|m| m.has_amounts()) => Cents::ZERO,
            (None, None) => return Err(f.problem(3, "a value is required here (or unit_price)")),
        };
        let explicit = f.parse(5, |s| OrderStatus::parse(&s.to_ascii_lowercase()))?;
        let paid_at = f.time(4, cx.tz)?;
        let (status, paid_at) = Sale::status(explicit, paid_at, created_at, returned);
        let sale = Sale {
            order_id,
            customer_id,
            created_at,
            status,
            paid_at,
            quantity: count,
            amount,
            returned,
        };
        sale.row(&f, cx)
    }
}

/// What a row says of its sale, read the strict way (guanxi's CSV) or through a mapping;
/// the other fields are read alike either way.
struct Sale {
    order_id: String,
    customer_id: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    status: OrderStatus,
    paid_at: Option<chrono::DateTime<chrono::Utc>>,
    quantity: u32,
    amount: Cents,
    /// A returned line: its amount is refunded and the order closed when it was created.
    returned: bool,
}

impl Sale {
    /// The status and payment time of a row: as the file says, else (no status column) a
    /// row records a sale, paid at `paid_at` or else when ordered — unless it is a return,
    /// which is no sale: closed, its amount refunded.
    fn status(
        explicit: Option<OrderStatus>,
        paid_at: Option<chrono::DateTime<chrono::Utc>>,
        created_at: chrono::DateTime<chrono::Utc>,
        returned: bool,
    ) -> (OrderStatus, Option<chrono::DateTime<chrono::Utc>>) {
        match explicit {
            Some(s) => (s, paid_at),
            None if returned => (OrderStatus::Closed, None),
            None => (OrderStatus::Paid, paid_at.or(Some(created_at))),
        }
    }

    fn row(self, f: &crate::table::Fields<'_, '_, 26>, cx: &Context) -> Result<OrderRow, Problem> {
        let line = OrderLine {
            sku: f.opt_string(10)?,
            title: f.opt_string(11)?,
            category: f.opt_string(9)?,
            quantity: self.quantity,
            amount: self.amount,
            discount: f.money(7)?.unwrap_or(Cents::ZERO),
            cost: f.money(6)?,
            refund: if self.returned {
                self.amount
            } else {
                f.money(17)?.unwrap_or(Cents::ZERO)
            },
        };
        let head = Head {
            customer_id: self.customer_id,
            status: self.status,
            created_at: self.created_at,
            times: StatusTimes {
                paid_at: self.paid_at,
                shipped_at: f.time(18, cx.tz)?,
                arrived_at: f.time(19, cx.tz)?,
                signed_at: f.time(20, cx.tz)?,
                completed_at: f.time(21, cx.tz)?,
                closed_at: if self.returned {
                    Some(self.created_at)
                } else {
                    f.time(22, cx.tz)?
                },
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
            order_id: self.order_id,
            head: Some(head),
            line,
            more: Vec::new(),
        })
    }
}

/// `quantity × price` in cents, and whether it is negative. Logs price single items
/// below a cent (the Online Retail log's `0.001`): the price is read to 4 decimals and the
/// line's total rounded to the cent, half away from zero, as an invoice rounds its lines.
fn line_total(quantity: i64, price: &str) -> Result<(Cents, bool), String> {
    let bad = || format!("expected a price like 2.55 (at most 4 decimals), found {price:?}");
    let p = price.trim();
    let (negative, p) = match p.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > 4
        || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let ten_thousandths: i128 = format!("{whole}{frac:0<4}").parse().map_err(|_| bad())?;
    let total = ten_thousandths * i128::from(quantity.unsigned_abs());
    let cents = (total + 50) / 100;
    let cents = i64::try_from(cents)
        .ok()
        .filter(|c| *c <= Cents::MAX_READ.0)
        .ok_or_else(|| format!("{quantity} × {price} is more than any order"))?;
    Ok((Cents(cents), negative != (quantity < 0) && cents > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_totals_round_to_the_cent() {
        assert_eq!(line_total(6, "2.55"), Ok((Cents(1530), false)));
        assert_eq!(line_total(1, "0.001"), Ok((Cents(0), false)));
        assert_eq!(line_total(500, "0.001"), Ok((Cents(50), false)));
        assert_eq!(line_total(1, "0.005"), Ok((Cents(1), false)));
        assert_eq!(line_total(1, "-11062.06"), Ok((Cents(1_106_206), true)));
        assert_eq!(line_total(-2, "1.25"), Ok((Cents(250), true)));
        assert!(line_total(1, "1,25").is_err());
        assert!(line_total(1, "0.00001").is_err());
        assert!(line_total(1, "").is_err());
    }
}
