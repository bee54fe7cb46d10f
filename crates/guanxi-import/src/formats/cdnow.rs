//! The CDNOW files (`testdata/cdnow`): `CDNOW_master.txt` (customer id, date, CDs, dollars,
//! with a header line) and `CDNOW_sample.txt` (master id, sample id, date, CDs, dollars,
//! no header), whitespace-separated. Each row is one purchase: an order of one line. The
//! files carry no order id; it is made from customer, date and the row's rank among the
//! customer's rows of that date, so that re-importing gives the same ids.

use guanxi_domain::{Cents, DecimalMark, OrderLine, OrderStatus, StatusTimes, parse_timestamp};

use super::{Context, First, Head, OrderFormat, OrderRow};
use crate::problem::Problem;
use crate::table::Row;

#[derive(Default)]
pub(crate) struct Cdnow {
    /// 4 (master) or 5 (sample) fields, from the first data row.
    width: Option<usize>,
    last: Option<(String, String)>,
    rank: u32,
}

fn text<'a>(row: &Row<'_>, word: &'a [u8], index: usize, name: &str) -> Result<&'a str, Problem> {
    std::str::from_utf8(word).map_err(|_| row.at.field(index, name, "expected ASCII text"))
}

impl OrderFormat for Cdnow {
    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem> {
        let words = row.words();
        let header = words.first().is_some_and(|w| !w.iter().all(u8::is_ascii_digit));
        Ok(if header { First::Header } else { First::Data })
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<OrderRow, Problem> {
        let words = row.words();
        let width = *self.width.get_or_insert(words.len());
        if width != 4 && width != 5 {
            return Err(row.at.line(format!(
                "expected 4 fields (customer_id date cds dollars) or 5 (master_id sample_id date cds dollars), found {}",
                words.len()
            )));
        }
        if words.len() != width {
            return Err(row.at.line(format!(
                "expected {width} fields as in the first row, found {}",
                words.len()
            )));
        }
        let o = width - 4;
        let customer = text(row, words[0], 0, "customer_id")?;
        if !customer.bytes().all(|b| b.is_ascii_digit()) {
            return Err(row
                .at
                .field(0, "customer_id", format!("expected digits, found {customer:?}")));
        }
        let date = text(row, words[1 + o], 1 + o, "date")?;
        let created_at = parse_timestamp(date, cx.tz).map_err(|e| row.at.field(1 + o, "date", e.to_string()))?;
        let cds = text(row, words[2 + o], 2 + o, "cds")?;
        let quantity = cds.parse::<u32>().map_err(|_| {
            row.at.field(
                2 + o,
                "cds",
                format!("expected a whole number of 0 or more, found {cds:?}"),
            )
        })?;
        let dollars = text(row, words[3 + o], 3 + o, "dollars")?;
        let amount = Cents::parse_non_negative(dollars, DecimalMark::Point)
            .map_err(|e| row.at.field(3 + o, "dollars", e.to_string()))?;
        let key = (customer.to_string(), date.to_string());
        if self.last.as_ref() == Some(&key) {
            self.rank += 1;
        } else {
            self.rank = 1;
            self.last = Some(key);
        }
        Ok(OrderRow {
            order_id: format!("{customer}-{date}-{}", self.rank),
            head: Some(Head {
                customer_id: Some(customer.to_string()),
                status: OrderStatus::Completed,
                created_at,
                times: StatusTimes {
                    paid_at: Some(created_at),
                    ..Default::default()
                },
                shipping_fee: Cents::ZERO,
                currency: Some("USD".into()),
                coupon: None,
                campaign: None,
                province: None,
                city: None,
                order_discount: Cents::ZERO,
                order_refund: Cents::ZERO,
            }),
            line: OrderLine {
                sku: None,
                title: None,
                category: Some("cd".into()),
                quantity,
                amount,
                discount: Cents::ZERO,
                cost: None,
                refund: Cents::ZERO,
            },
            more: Vec::new(),
        })
    }
}
