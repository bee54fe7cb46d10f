//! Service tasks that program steps create for staff (a parcel stuck for 72 hours: call
//! the carrier): listed and closed by the CLI's `guanxi task`, the tasks page and the API.

use chrono::{DateTime, Utc};
use guanxi_store::{Store, Task};

use crate::AppError;
use crate::access::Actor;
use crate::error::Result;

/// The most tasks one call lists.
pub const MAX_LISTED: u32 = 1000;

/// Open tasks (every task when `all`), the earliest due first; one customer's when given.
pub async fn list(store: &dyn Store, all: bool, customer: Option<i64>, limit: u32) -> Result<Vec<Task>> {
    Ok(store.tasks(all, customer, limit.clamp(1, MAX_LISTED)).await?)
}

/// Closes the open task `key`, audited under `by`'s name: the task's text.
pub async fn close(store: &dyn Store, key: &str, by: &Actor, now: DateTime<Utc>) -> Result<String> {
    store
        .close_task(key, now, &by.name)
        .await?
        .ok_or_else(|| AppError::BadInput {
            code: "task_unknown",
            message: format!(
                "key: no open task {key:?} (closed already, or never made; guanxi task list shows the open ones)"
            ),
        })
}
