//! A person's rights over their data (PIPL art. 45 and 47, GDPR art. 15 and 17): everything
//! the shop holds about them, exported; or their personal data erased. Both audited.
//!
//! Erasure keeps the books: the customer's record stays under an anonymous key with its
//! orders' money (revenue, refunds, costs), so that reports of past periods do not change;
//! their name, contacts, birthday, city, tags, consents, other identities, service notes
//! and review texts go, in the store and in the lake (order lines carry the buyer's
//! external id and city; profile details are removed from every kept build). Identities
//! merged into the person are erased with them.

use chrono::{DateTime, Utc};
use guanxi_import::{Loader, Summary};
use guanxi_store::AuditEntry;
use rand::RngCore as _;
use serde::Serialize;
use sha2::Digest as _;

use crate::access::{self, Actor};
use crate::customers::{self, Limits, View};
use crate::{AppError, Shop};

/// Everything about one person.
#[derive(Debug, Clone, Serialize)]
pub struct PersonalData {
    pub exported_at: DateTime<Utc>,
    /// The person, then each identity merged into them.
    pub customers: Vec<View>,
    /// What staff did with the person's record (merges, reveals, exports, erasure).
    pub audit_trail: Vec<AuditEntry>,
    /// Their points (tier, balance, lots, every event) and coupons, per record.
    pub membership: Vec<(crate::points::Member, Vec<guanxi_domain::coupon::Coupon>)>,
}

/// As many of each record as anyone has: an export is complete.
const ALL: Limits = Limits {
    history: u32::MAX,
    tasks: u32::MAX,
};

fn missing(id: i64) -> AppError {
    AppError::BadInput {
        code: "customer_unknown",
        message: format!("CUSTOMER: no customer #{id}"),
    }
}

/// The person `id` and the identities merged into them.
async fn person(shop: Shop<'_>, id: i64) -> Result<Vec<i64>, AppError> {
    let mut ids = vec![id];
    ids.extend(
        shop.store
            .merged_into()
            .await?
            .into_iter()
            .filter(|(_, kept)| *kept == id)
            .map(|(merged, _)| merged),
    );
    Ok(ids)
}

/// Everything the shop holds about customer `id`, audited as `privacy.export`.
pub async fn export(shop: Shop<'_>, id: i64, by: &Actor, now: DateTime<Utc>) -> Result<PersonalData, AppError> {
    let mut views = Vec::new();
    for cid in person(shop, id).await? {
        if let Some(v) = customers::view(shop, cid, ALL).await? {
            views.push(v);
        }
    }
    if views.is_empty() {
        return Err(missing(id));
    }
    access::record(
        shop.store,
        by,
        "privacy.export",
        format!("customer:{id}"),
        format!("{} record(s) exported", views.len()),
    )
    .await?;
    let audit_trail = shop.store.audit_trail(&format!("customer:{id}")).await?;
    let mut membership = Vec::with_capacity(views.len());
    for v in &views {
        let filter = guanxi_store::CouponFilter {
            customer_id: Some(v.id),
            limit: u32::MAX,
            ..Default::default()
        };
        membership.push((
            crate::points::show(shop.store, v.id).await?,
            shop.store.coupons(&filter).await?,
        ));
    }
    Ok(PersonalData {
        exported_at: now,
        customers: views,
        audit_trail,
        membership,
    })
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// The customer records erased (the person and the identities merged into them).
    pub customers: usize,
    /// Their orders, rewritten without the buyer's key and city.
    pub orders: usize,
    /// Profile details removed from the lake's kept builds.
    pub profile_details: usize,
}

/// A key no one can trace back to the person: random, not derived from what it replaces.
fn anonymous_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("erased-{}", &hex::encode(sha2::Sha256::digest(bytes))[..24])
}

/// Erases customer `id`'s personal data (see the module's docs), audited as
/// `privacy.erase`.
pub async fn erase(shop: Shop<'_>, id: i64, by: &Actor) -> Result<Erased, AppError> {
    let ids = person(shop, id).await?;
    let mut loader = Loader::begin(shop.store, shop.lake, "erase").await?;
    let done = async {
        let mut orders = 0;
        let mut s = Summary::default();
        for &cid in &ids {
            let Some(customer) = shop.store.customer_by_id(cid).await? else {
                // The person asked for must exist; an identity merged into them may not.
                if cid == id {
                    return Err(missing(id));
                }
                continue;
            };
            let anonymous = anonymous_id();
            // The orders as they are, read before the key changes.
            let mut rewritten = Vec::new();
            for o in shop.store.customer_history(cid, u32::MAX).await?.orders {
                let Ok(source) = guanxi_domain::Source::parse(&o.source) else {
                    continue;
                };
                let key = guanxi_domain::OrderKey {
                    source,
                    external_id: o.external_id,
                };
                if let Some(stored) = shop.store.order(&key).await? {
                    let mut order = stored.order;
                    order.customer = Some(guanxi_domain::CustomerKey {
                        source: customer.key.source.clone(),
                        external_id: anonymous.clone(),
                    });
                    order.city = None;
                    rewritten.push(order);
                }
            }
            loader.erase_customer(cid, &anonymous).await?;
            for chunk in rewritten.chunks(1000) {
                loader.orders(chunk, &mut s).await?;
            }
            orders += rewritten.len();
        }
        Ok::<_, AppError>(orders)
    }
    .await;
    let orders = match done {
        Ok(n) => n,
        Err(e) => {
            loader.abort().await;
            return Err(e);
        }
    };
    loader.commit_event(shop.lake).await?;
    // The superseded order rows (with the old key and city) leave the lake's files.
    shop.lake.compact()?;
    let profile_details = shop.lake.erase_profile_details(&ids)?;
    let erased = Erased {
        customers: ids.len(),
        orders,
        profile_details,
    };
    access::record(
        shop.store,
        by,
        "privacy.erase",
        format!("customer:{id}"),
        format!(
            "{} record(s), {} order(s) anonymised, {} profile detail(s) removed",
            erased.customers, erased.orders, erased.profile_details
        ),
    )
    .await?;
    Ok(erased)
}
