//! Service records and reviews as the API pages them and the profile build reads them
//! (SQL in [`crate::sql_records!`], written once for both backends; the import writes
//! them through [`crate::StoreTx`]).

use guanxi_domain::profile::{ReviewFact, ServiceFact};

use crate::{HistoryReview, HistoryService, Result};

#[async_trait::async_trait]
pub trait Records {
    /// Service records of every customer with `id > after_id` in id order, at most
    /// `limit`, each as (id, customer id, record): the API's cursor-paged list.
    async fn service_records_after(&self, after_id: i64, limit: u32) -> Result<Vec<(i64, i64, HistoryService)>>;

    /// Reviews of every customer with `id > after_id` in id order, at most `limit`, each
    /// as (id, customer id, review).
    async fn reviews_after(&self, after_id: i64, limit: u32) -> Result<Vec<(i64, i64, HistoryReview)>>;

    /// Every service record's facts for the profile build, with its customer's id (in no
    /// particular order: the build groups them).
    async fn service_facts(&self) -> Result<Vec<(i64, ServiceFact)>>;

    /// Every review's facts for the profile build, with its customer's id.
    async fn review_facts(&self) -> Result<Vec<(i64, ReviewFact)>>;
}
