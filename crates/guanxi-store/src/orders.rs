//! Orders as the store reads them back: one by key, all of them a page at a time (with
//! their lines, or as the order figures sum them), and the order a platform's event
//! named (SQL in [`crate::sql_orders!`], written once for both backends; the import
//! writes orders through [`crate::StoreTx`]).

use guanxi_domain::OrderKey;

use crate::{Result, StoredOrder};

#[async_trait::async_trait]
pub trait Orders {
    /// One order by its key, with its lines.
    async fn order(&self, key: &OrderKey) -> Result<Option<StoredOrder>>;

    /// Orders with `id > after_id` in id order, at most `limit`: a constant-memory walk
    /// over all orders (the lake rebuild, exports).
    async fn orders_after(&self, after_id: i64, limit: u32) -> Result<Vec<StoredOrder>>;

    /// Orders with `id > after_id` in id order, at most `limit`, as the shop's order
    /// figures need them: no lines, their sums (a walk over every order, lighter than
    /// [`Orders::orders_after`]).
    async fn order_summaries(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, guanxi_domain::report::OrderSummary)>>;

    /// The external id of the order a platform knows by `platform_order_id`, from the
    /// deliveries received from `source` (see [`crate::ReceivedEvent::order`]).
    async fn order_of_platform_id(&self, source: &str, platform_order_id: &str) -> Result<Option<String>>;
}
