//! Coupons (`guanxi_domain::coupon`): issued by programs, tier benefits and campaigns
//! (the engine) or by an operator (here), listed, and matched with the orders that
//! redeem them whenever orders arrive.

use chrono::{DateTime, Utc};
use guanxi_domain::coupon::{Coupon, Definitions};
use guanxi_store::{CouponFilter, NewCoupon, Store};

use crate::access::{self, Actor};
use crate::{AppError, error::Result};

/// The most coupons one listing returns.
pub const MAX_LIST: u32 = 1_000;

/// What an operator asks to issue.
#[derive(Debug, Clone)]
pub struct Issue {
    pub customer_id: i64,
    /// The definition (`[coupons.NAME]`).
    pub coupon: String,
    /// Makes a repeated request issue once (a form submitted twice, a client retrying);
    /// none: each request issues a new coupon.
    pub key: Option<String>,
}

/// Issues a coupon by hand, audited as `coupon.issue` under `by`. A repeated key returns
/// the coupon it issued the first time.
pub async fn issue(
    store: &dyn Store,
    definitions: &Definitions,
    i: &Issue,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<Coupon> {
    let definition = definitions.named(&i.coupon).map_err(|message| AppError::BadInput {
        code: "coupon_unknown",
        message: format!("coupon: {message}"),
    })?;
    if store.customer_by_id(i.customer_id).await?.is_none() {
        return Err(AppError::BadInput {
            code: "customer_unknown",
            message: format!("customer: no customer #{}", i.customer_id),
        });
    }
    let issue_key = match &i.key {
        Some(k) => format!("manual:{}:{k}", i.customer_id),
        None => format!("manual:{}:{}", i.customer_id, rand::random::<u64>()),
    };
    let new = NewCoupon::new(
        issue_key,
        i.customer_id,
        &i.coupon,
        definition,
        now,
        format!("manual:{}", by.name),
        rand::random(),
    );
    if store.issue_coupons(std::slice::from_ref(&new)).await? == 1 {
        access::record(
            store,
            by,
            "coupon.issue",
            format!("customer:{}", i.customer_id),
            format!("{} ({})", i.coupon, new.coupon.code),
        )
        .await?;
    }
    // The coupon the key issued, now or the first time.
    let filter = CouponFilter {
        issue_key: Some(new.issue_key.clone()),
        limit: 1,
        ..Default::default()
    };
    store.coupons(&filter).await?.pop().ok_or_else(|| AppError::Missing {
        code: "coupon_missing",
        message: "the coupon was issued but cannot be read back".into(),
    })
}

/// Coupons as `filter` says (at most [`MAX_LIST`]), newest first.
pub async fn list(store: &dyn Store, filter: &CouponFilter) -> Result<Vec<Coupon>> {
    let filter = CouponFilter {
        limit: filter.limit.clamp(1, MAX_LIST),
        ..filter.clone()
    };
    Ok(store.coupons(&filter).await?)
}

/// Matches open coupons (those with `codes`, or all) with the paid orders that name
/// their codes; how many were redeemed now. Run after every import (all) and live order
/// event (its order's code): idempotent, so a run that fails is made good by the next.
pub async fn redeem(store: &dyn Store, codes: Option<&[String]>) -> Result<u64> {
    match codes {
        Some([]) => Ok(0),
        _ => Ok(store.redeem_coupons(codes).await?),
    }
}

/// [`redeem`] once orders were committed: the orders are in whatever happens here, and a
/// failure is logged and made good by the next run.
pub(crate) async fn redeem_after_orders(store: &dyn Store, codes: Option<&[String]>) {
    match redeem(store, codes).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(redeemed = n, "coupons redeemed"),
        Err(e) => tracing::warn!("coupons not matched with their orders this time: {e}"),
    }
}
