//! Live segment counts: the current build's profile columns held in memory answer an
//! expression over profile columns alone in milliseconds at a million customers (the
//! store's SQL scanned the profiles table: 0.24 s, `guanxi bench big`); anything else
//! (customer fields, tags, behaviour) is counted by the store. About 160 bytes per
//! profile, read once per build.

use guanxi_domain::segment::Expr;
use guanxi_store::{BuildRecord, ProfileColumns, StoreError};
use std::sync::Arc;

use crate::AppState;

/// The columns of one build, loaded on first use and replaced when a newer build exists.
#[derive(Default)]
pub struct ProfileCounts {
    /// Held while loading, so that concurrent counts wait for one load.
    columns: tokio::sync::Mutex<Option<Arc<ProfileColumns>>>,
}

impl ProfileCounts {
    /// The columns of `build`, loaded if they are not those held.
    pub async fn columns(&self, s: &AppState, build: &BuildRecord) -> Result<Option<Arc<ProfileColumns>>, StoreError> {
        let mut held = self.columns.lock().await;
        if held.as_ref().is_none_or(|c| c.build_id != build.id) {
            *held = s.store.profile_columns().await?.map(Arc::new);
        }
        Ok(held.clone().filter(|c| c.build_id == build.id))
    }
}

/// How many profiles of `build` `expr` holds for: from the columns in memory when it
/// reads profile columns only, else from the store.
pub async fn count(s: &AppState, expr: &Expr, build: &BuildRecord) -> Result<u64, StoreError> {
    if ProfileColumns::answers(expr)
        && let Some(columns) = s.counts.columns(s, build).await?
        && let Some(n) = columns.count(expr)
    {
        return Ok(n);
    }
    s.store.segment_count(expr, build.as_of).await
}
