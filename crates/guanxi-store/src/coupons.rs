//! Coupons (`guanxi_domain::coupon`): issued once per issuance key, redeemed by the first
//! paid order that names the code. Every backend implements [`Coupons`] with the shared
//! SQL (`sql_coupons.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guanxi_domain::coupon::Coupon;

use crate::Result;

/// A coupon to issue: the coupon as the customer will hold it (not yet redeemed) and
/// what makes its issuance happen once — a program step's ledger key, a campaign's
/// member, an operator's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCoupon {
    pub issue_key: String,
    pub coupon: Coupon,
}

/// Which coupons to list (all given conditions hold), newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CouponFilter {
    pub customer_id: Option<i64>,
    /// Any of these customers (none: no condition).
    pub customers: Vec<i64>,
    pub source: Option<String>,
    pub code: Option<String>,
    pub issue_key: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait Coupons: Send + Sync {
    /// Issues each coupon whose issuance key is new (a repeated key issues nothing);
    /// returns how many were issued.
    async fn issue_coupons(&self, coupons: &[NewCoupon]) -> Result<u64>;

    async fn coupons(&self, filter: &CouponFilter) -> Result<Vec<Coupon>>;

    /// Matches each open coupon (of `codes`, or every one) with the first paid order (at
    /// or after its issuance) that names its code; returns how many were redeemed now.
    /// Run after orders arrive.
    async fn redeem_coupons(&self, codes: Option<&[String]>) -> Result<u64>;
}

impl NewCoupon {
    /// A coupon of `definition` (named `name`) for `customer_id`, issued at `at`, its code
    /// from the caller's `random` bits (see `guanxi_domain::coupon::code`).
    pub fn new(
        issue_key: String,
        customer_id: i64,
        name: &str,
        definition: &guanxi_domain::coupon::Definition,
        at: DateTime<Utc>,
        source: String,
        random: u64,
    ) -> NewCoupon {
        NewCoupon {
            issue_key,
            coupon: Coupon {
                code: guanxi_domain::coupon::code(random),
                customer_id,
                definition: name.to_string(),
                kind: definition.kind,
                value_cents: definition.value_cents,
                min_spend_cents: definition.min_spend_cents,
                issued_at: at,
                expires_at: definition.expires(at),
                source,
                redeemed_order: None,
                redeemed_at: None,
            },
        }
    }
}
