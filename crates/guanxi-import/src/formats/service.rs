//! The service records CSV: inquiries, after-sale, returns, complaints, disputes, praise.

use guanxi_domain::{Cents, CustomerKey, Rating, ServiceKind, ServiceRecord, ServiceStatus};

use super::{Context, RecordFormat};
use crate::problem::Problem;
use crate::table::{Columns, Header, Row, fields};

pub(crate) const COLUMNS: [&str; 10] = [
    "record_id",
    "customer_id",
    "order_id",
    "kind",
    "status",
    "opened_at",
    "closed_at",
    "satisfaction",
    "cost",
    "note",
];

#[derive(Default)]
pub(crate) struct Service {
    cols: Option<Columns<10>>,
}

fn kind(s: &str) -> Result<ServiceKind, String> {
    let alias = match s {
        "询单" | "售前" => Some(ServiceKind::Inquiry),
        "售中" => Some(ServiceKind::InSale),
        "售后" => Some(ServiceKind::AfterSale),
        "退货" => Some(ServiceKind::Return),
        "投诉" => Some(ServiceKind::Complaint),
        "纠纷" => Some(ServiceKind::Dispute),
        "口碑" | "表扬" => Some(ServiceKind::Praise),
        _ => None,
    };
    match alias {
        Some(k) => Ok(k),
        None => ServiceKind::parse(&s.to_lowercase()).map_err(|e| e.to_string()),
    }
}

impl RecordFormat for Service {
    type Record = ServiceRecord;

    fn header(&mut self, row: &Row<'_>) -> Result<(), Problem> {
        let header = Header::read(row)?;
        header.reject_unknown(&row.at, &COLUMNS)?;
        self.cols = Some(header.columns(&row.at, &["record_id", "customer_id", "kind", "opened_at"], COLUMNS)?);
        Ok(())
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<ServiceRecord, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        let opened_at = f
            .time(5, cx.tz)?
            .ok_or_else(|| f.problem(5, "a value is required here"))?;
        let closed_at = f.time(6, cx.tz)?;
        if closed_at.is_some_and(|c| c < opened_at) {
            return Err(f.problem(6, "closed before it was opened"));
        }
        let status = match f.parse(4, |s| ServiceStatus::parse(&s.to_lowercase()))? {
            Some(s) => s,
            None if closed_at.is_some() => ServiceStatus::Closed,
            None => ServiceStatus::Open,
        };
        Ok(ServiceRecord {
            source: cx.source.clone(),
            external_id: f.req(0)?.into_owned(),
            customer: CustomerKey {
                source: cx.source.clone(),
                external_id: f.req(1)?.into_owned(),
            },
            order_external_id: f.opt_string(2)?,
            kind: f
                .parse(3, kind)?
                .ok_or_else(|| f.problem(3, "a value is required here"))?,
            status,
            opened_at,
            closed_at,
            satisfaction: f.parse(7, Rating::parse)?,
            cost: f.money(8)?.unwrap_or(Cents::ZERO),
            note: f.opt_string(9)?,
        })
    }

    fn id(record: &ServiceRecord) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&record.external_id)
    }
}
