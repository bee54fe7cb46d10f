//! Importing shop files (the CLI's `guanxi import`): the import itself is guanxi-import's
//! (all or nothing, located problems); here it is also recorded in the audit log with who
//! ran it — the import history keeps what it did, the audit log who did it.

use std::path::PathBuf;

use guanxi_import::{Options, Progress, Summary};

use crate::access::{self, Actor};
use crate::{AppError, Shop};

/// Imports `files` as `opts` say, audited as `import` under `by` (a refused import too,
/// with why).
pub async fn import(
    shop: Shop<'_>,
    files: &[PathBuf],
    opts: &Options,
    progress: &mut dyn Progress,
    by: &Actor,
) -> Result<Summary, AppError> {
    let what = format!(
        "{} {} from {}",
        opts.format.name(),
        opts.kind.name(),
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match guanxi_import::import(shop.store, shop.lake, files, opts, progress).await {
        Ok(s) => {
            let detail = format!(
                "{what}: {} rows read; orders {} inserted, {} updated; customers {} inserted, {} updated; records {} inserted, {} updated; {} rejected",
                s.rows_read,
                s.orders_inserted,
                s.orders_updated,
                s.customers_inserted,
                s.customers_updated,
                s.records_inserted,
                s.records_updated,
                s.rejected
            );
            access::record(shop.store, by, "import", "store".into(), detail).await?;
            crate::coupons::redeem_after_orders(shop.store, None).await;
            Ok(s)
        }
        Err(e) => {
            let detail = format!("{what}: refused ({}), nothing written", e.code());
            access::record(shop.store, by, "import.refused", "store".into(), detail).await?;
            Err(e.into())
        }
    }
}
