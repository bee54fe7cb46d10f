//! Merges: two customer records found to be one person, joined and parted again (SQL in
//! [`crate::sql_merges!`], written once for both backends).

use chrono::{DateTime, Utc};

use crate::{MergeProposal, Result};

#[async_trait::async_trait]
pub trait Merges {
    /// Merged customer → the person it was merged into, sorted, for the profile build and
    /// the reports.
    async fn merged_into(&self) -> Result<Vec<(i64, i64)>>;

    /// Pairs of unmerged customers sharing a normalised mobile number or email.
    async fn merge_proposals(&self, limit: u32) -> Result<Vec<MergeProposal>>;

    /// Merges `merged` into `kept` (consent per channel becomes the more restrictive of the
    /// two), audited under `actor`.
    async fn merge(&self, kept: i64, merged: i64, actor: &str, at: DateTime<Utc>) -> Result<()>;

    /// Reverses the merge of `merged`, restoring the kept customer's consent, audited.
    async fn unmerge(&self, merged: i64, actor: &str, at: DateTime<Utc>) -> Result<i64>;
}
