//! Service records (客服记录: inquiries, after-sale, returns, complaints, praise): most
//! arrive with a shop's exports; a service agent also records one by hand — a call, a
//! complaint taken on WeChat — through the API. A record's cost is part of the
//! customer's profit and its satisfaction part of the satisfaction report from the next
//! profile build on.

use chrono::{DateTime, Utc};
use guanxi_domain::{Cents, Rating, ServiceKind, ServiceRecord, ServiceStatus};
use guanxi_store::{HistoryReview, HistoryService, Store};

use crate::AppError;
use crate::access::Actor;
use crate::error::Result;

/// The most records one call lists.
pub const MAX_LISTED: u32 = 1000;
/// The longest note kept (characters): a summary of a contact, not a transcript.
pub const MAX_NOTE: usize = 4000;

/// A record staff make by hand.
#[derive(Debug, Clone)]
pub struct NewService {
    pub customer: i64,
    pub kind: ServiceKind,
    pub status: ServiceStatus,
    /// The order it concerns, by the order's id on its platform.
    pub order: Option<String>,
    pub satisfaction: Option<Rating>,
    /// What handling it cost the shop (a refund of postage, a gift).
    pub cost: Cents,
    pub note: Option<String>,
}

/// Records `new` under `by`'s name (audited as `service.recorded`), opened `now` (and
/// closed `now` when it is recorded closed); its id, made by guanxi (`staff-…`) in the
/// customer's own source so that it belongs with their imported records.
pub async fn record(store: &dyn Store, by: &Actor, new: NewService, now: DateTime<Utc>) -> Result<String> {
    let bad = |message: String| AppError::BadInput {
        code: "service_invalid",
        message,
    };
    if let Some(note) = &new.note
        && note.chars().count() > MAX_NOTE
    {
        return Err(bad(format!("note: expected at most {MAX_NOTE} characters")));
    }
    if new.cost.0 < 0 {
        return Err(bad(format!(
            "cost_cents: expected a cost of 0 or more, found {}",
            new.cost.0
        )));
    }
    let customer = store
        .customer_by_id(new.customer)
        .await?
        .ok_or_else(|| bad(format!("customer: no customer {}", new.customer)))?;
    // A record on a customer merged into another counts for the person kept, as their
    // imported records do.
    let external_id = format!("staff-{}", crate::access::random_hex_of::<8>());
    let record = ServiceRecord {
        source: customer.key.source.clone(),
        external_id: external_id.clone(),
        customer: customer.key.clone(),
        order_external_id: new.order.clone(),
        kind: new.kind,
        status: new.status,
        opened_at: now,
        closed_at: (new.status == ServiceStatus::Closed).then_some(now),
        satisfaction: new.satisfaction,
        cost: new.cost,
        note: new.note.clone(),
    };
    let mut tx = store.begin().await?;
    tx.upsert_service_records(std::slice::from_ref(&record)).await?;
    tx.commit().await?;
    crate::access::record(
        store,
        by,
        "service.recorded",
        format!("customer:{}", new.customer),
        format!("{} {} {}", external_id, new.kind.as_str(), new.status.as_str()),
    )
    .await?;
    Ok(external_id)
}

/// Service records of every customer after record `after` (cursor paging), id order.
pub async fn list(store: &dyn Store, after: i64, limit: u32) -> Result<Vec<(i64, i64, HistoryService)>> {
    Ok(store.service_records_after(after, limit.clamp(1, MAX_LISTED)).await?)
}

/// Reviews of every customer after review `after` (cursor paging), id order.
pub async fn reviews(store: &dyn Store, after: i64, limit: u32) -> Result<Vec<(i64, i64, HistoryReview)>> {
    Ok(store.reviews_after(after, limit.clamp(1, MAX_LISTED)).await?)
}
