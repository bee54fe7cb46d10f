//! Live segment counts: the current build's profile columns held in memory answer an
//! expression over profile columns alone in milliseconds at a million customers (the
//! store's SQL scanned the profiles table: 0.24 s, `guanxi bench big`); anything else
//! (customer fields, tags, behaviour) is counted by the store. About 160 bytes per
//! profile, read once per build.

use guanxi_domain::segment::Expr;
use guanxi_store::{BuildRecord, ProfileColumns, StoreError};

use crate::AppState;

/// How many profiles of `build` `expr` holds for: from the columns in memory when it
/// reads profile columns only, else from the store.
pub async fn count(s: &AppState, expr: &Expr, build: &BuildRecord) -> Result<u64, StoreError> {
    if ProfileColumns::answers(expr)
        && let Some(columns) = s.counts.of(s.store.as_ref(), build).await?
        && let Some(n) = columns.count(expr)
    {
        return Ok(n);
    }
    s.store.segment_count(expr, build.as_of).await
}
