//! The reviews CSV: detailed seller ratings (DSR) 1–5 and the review text.

use guanxi_domain::{CustomerKey, Rating, Review};

use super::{Context, RecordFormat};
use crate::problem::Problem;
use crate::table::{Columns, Header, Row, fields};

pub(crate) const COLUMNS: [&str; 8] = [
    "review_id",
    "customer_id",
    "order_id",
    "item_rating",
    "service_rating",
    "logistics_rating",
    "text",
    "created_at",
];

#[derive(Default)]
pub(crate) struct Reviews {
    cols: Option<Columns<8>>,
}

impl RecordFormat for Reviews {
    type Record = Review;

    fn header(&mut self, row: &Row<'_>) -> Result<(), Problem> {
        let header = Header::read(row)?;
        header.reject_unknown(&row.at, &COLUMNS)?;
        self.cols = Some(header.columns(&row.at, &["review_id", "customer_id", "created_at"], COLUMNS)?);
        Ok(())
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<Review, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        Ok(Review {
            source: cx.source.clone(),
            external_id: f.req(0)?.into_owned(),
            customer: CustomerKey {
                source: cx.source.clone(),
                external_id: f.req(1)?.into_owned(),
            },
            order_external_id: f.opt_string(2)?,
            item_rating: f.parse(3, Rating::parse)?,
            service_rating: f.parse(4, Rating::parse)?,
            logistics_rating: f.parse(5, Rating::parse)?,
            text: f.opt_string(6)?,
            created_at: f
                .time(7, cx.tz)?
                .ok_or_else(|| f.problem(7, "a value is required here"))?,
        })
    }

    fn id(record: &Review) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&record.external_id)
    }
}
