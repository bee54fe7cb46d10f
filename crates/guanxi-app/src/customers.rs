//! One customer, whole: the record (contacts, consents, tags), the current profile with
//! its explanations, how their classes changed, their orders, service records, reviews and
//! messages, and their open tasks — what the customer 360 page, the API and a privacy
//! export show.

pub use guanxi_analytics::CustomerProfile;
pub use guanxi_domain::shown_id;
use guanxi_domain::{Customer, masked};
use guanxi_store::{History, Task, Transition};
use serde::Serialize;

use crate::{AppError, Shop};

/// A customer 360.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub id: i64,
    pub customer: Customer,
    /// The current build's profile of the customer with its explanations (as the build
    /// wrote it); `None` before a build, or for a customer who never bought.
    pub profile: Option<CustomerProfile>,
    pub transitions: Vec<Transition>,
    pub history: History,
    pub open_tasks: Vec<Task>,
}

impl View {
    /// The view with every contact masked (138****8000, j***@example.com; WeChat, QQ
    /// and landline to their last characters), as staff see it unless they reveal one
    /// with a reason.
    pub fn masked(mut self) -> View {
        let c = &mut self.customer;
        if let Some(m) = &mut c.mobile {
            m.raw = masked(&m.raw);
            m.normalised = None;
        }
        if let Some(e) = &mut c.email {
            e.raw = masked(&e.raw);
            e.normalised = None;
        }
        for text in [&mut c.phone, &mut c.qq, &mut c.wechat].into_iter().flatten() {
            *text = masked(text);
        }
        c.key.external_id = shown_id(&c.key.external_id);
        self
    }
}

/// How many of each kind of record a view lists (the newest first).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub history: u32,
    pub tasks: u32,
}

/// The current build's profile of customer `id` with its explanations; `None` before a
/// build or for someone it did not profile.
pub async fn profile(shop: Shop<'_>, id: i64) -> Result<Option<CustomerProfile>, AppError> {
    let Some(build) = shop.store.latest_build().await? else {
        return Ok(None);
    };
    Ok(match shop.lake.profile_detail(build.id, id)? {
        // Written by the build as `CustomerProfile`; a detail another version wrote that
        // this one cannot read shows as no profile until the next build, not as a failure.
        Some(d) => serde_json::from_str(&d)
            .map_err(|e| tracing::warn!(customer = id, build = build.id, "a profile detail does not read: {e}"))
            .ok(),
        None => None,
    })
}

/// The customer 360 of `id`; `None` when no customer has this id.
pub async fn view(shop: Shop<'_>, id: i64, limits: Limits) -> Result<Option<View>, AppError> {
    let Some(customer) = shop.store.customer_by_id(id).await? else {
        return Ok(None);
    };
    let profile = profile(shop, id).await?;
    let (transitions, history, open_tasks) = tokio::try_join!(
        shop.store.customer_transitions(id),
        shop.store.customer_history(id, limits.history),
        shop.store.tasks(false, Some(id), limits.tasks)
    )?;
    Ok(Some(View {
        id,
        customer,
        profile,
        transitions,
        history,
        open_tasks,
    }))
}

/// Merges customer record `merged` into `kept` (one person from now on; the most
/// restrictive consent per channel kept), audited by the store under `by`'s name. A
/// record already merged, or merged into itself, is refused as bad input.
pub async fn merge(
    store: &dyn guanxi_store::Store,
    kept: i64,
    merged: i64,
    by: &crate::access::Actor,
) -> Result<(), AppError> {
    if kept == merged {
        return Err(AppError::BadInput {
            code: "merge_self",
            message: format!("merged: #{merged} cannot be merged into itself"),
        });
    }
    Ok(store.merge(kept, merged, &by.name, chrono::Utc::now()).await?)
}

/// Undoes the merge of record `merged`, restoring what the merge changed; the person it
/// was merged into.
pub async fn unmerge(store: &dyn guanxi_store::Store, merged: i64, by: &crate::access::Actor) -> Result<i64, AppError> {
    Ok(store.unmerge(merged, &by.name, chrono::Utc::now()).await?)
}

/// Pairs of records that share a normalised mobile number or e-mail: proposed as one
/// person, the shared value masked unless `unmasked`.
pub async fn duplicates(
    store: &dyn guanxi_store::Store,
    limit: u32,
    unmasked: bool,
) -> Result<Vec<guanxi_store::MergeProposal>, AppError> {
    let mut pairs = store.merge_proposals(limit.clamp(1, 10_000)).await?;
    if !unmasked {
        for p in &mut pairs {
            p.value = masked(&p.value);
        }
    }
    Ok(pairs)
}
