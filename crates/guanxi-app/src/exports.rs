//! Exporting customers (the CLI's `guanxi customers export`, the customers page's CSV
//! link, `GET /api/v1/segments/export`): audited when it starts, then read a page at a
//! time in customer id order — the caller writes each page where it goes (a file written
//! whole or not at all, a streamed answer) with `CUSTOMER_EXPORT_HEADER` first.

use chrono::{DateTime, Utc};
use guanxi_domain::segment::Expr;
use guanxi_store::Store;
use guanxi_store::tables::{ContactView, customer_export_page};

use crate::access::{self, Actor};
use crate::error::Result;

/// An export under way: where the next page starts.
#[derive(Debug, Clone)]
pub struct CustomersExport {
    expr: Option<Expr>,
    as_of: DateTime<Utc>,
    view: ContactView,
    /// `None` once the last page was read.
    next: Option<i64>,
    /// Rows read so far.
    pub written: u64,
}

/// Starts exporting the current build's profiled customers `expr` selects (everyone when
/// `None`; `described` says which in the audit log), contacts as `view` says, to
/// `destination` (a file, "web"): audited as `customers.export` under `by`.
pub async fn customers(
    store: &dyn Store,
    expr: Option<Expr>,
    described: Option<&str>,
    view: ContactView,
    destination: &str,
    by: &Actor,
) -> Result<CustomersExport> {
    let as_of = crate::profiles::current_build(store).await?.as_of;
    access::record(
        store,
        by,
        "customers.export",
        "customers".into(),
        format!(
            "customers of {}, contacts {}, to {destination}",
            described.unwrap_or("everyone"),
            match view {
                ContactView::Masked => "masked",
                ContactView::Full => "in full",
            }
        ),
    )
    .await?;
    Ok(CustomersExport {
        expr,
        as_of,
        view,
        next: Some(0),
        written: 0,
    })
}

impl CustomersExport {
    /// The build's moment the export reads.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.as_of
    }

    /// The next page of rows, `None` after the last.
    pub async fn next_page(&mut self, store: &dyn Store) -> Result<Option<Vec<Vec<String>>>> {
        let Some(after) = self.next else {
            return Ok(None);
        };
        let (rows, next) = customer_export_page(store, self.expr.as_ref(), self.as_of, after, self.view).await?;
        self.next = next;
        self.written += rows.len() as u64;
        Ok(Some(rows))
    }
}
