//! Service records (客服记录): inquiries, after-sale, returns, complaints, praise.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Cents, CustomerKey, Fingerprint, Rating, Source};

names! {
    pub enum ServiceKind {
        /// Pre-sale inquiry 询单.
        Inquiry = "inquiry",
        InSale = "in-sale",
        AfterSale = "after-sale",
        /// Return 退货.
        Return = "return",
        /// Complaint 投诉.
        Complaint = "complaint",
        /// Dispute 纠纷.
        Dispute = "dispute",
        /// Praise or word of mouth 口碑.
        Praise = "praise",
    }
}

names! {
    pub enum ServiceStatus { Open = "open", Closed = "closed" }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub source: Source,
    pub external_id: String,
    pub customer: CustomerKey,
    /// The order it concerns, by the order's external id in the same source.
    pub order_external_id: Option<String>,
    pub kind: ServiceKind,
    pub status: ServiceStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub satisfaction: Option<Rating>,
    /// What handling it cost the shop; part of a customer's profit (docs/domain.md §2).
    pub cost: Cents,
    pub note: Option<String>,
}

impl ServiceRecord {
    pub fn fingerprint(&self) -> i64 {
        let mut f = Fingerprint::new();
        f.str(self.source.as_str())
            .str(&self.external_id)
            .str(self.customer.source.as_str())
            .str(&self.customer.external_id)
            .opt_str(self.order_external_id.as_deref())
            .str(self.kind.as_str())
            .str(self.status.as_str())
            .i64(self.opened_at.timestamp_micros())
            .opt_i64(self.closed_at.map(|t| t.timestamp_micros()))
            .opt_i64(self.satisfaction.map(|r| i64::from(r.get())))
            .i64(self.cost.0)
            .opt_str(self.note.as_deref());
        f.finish()
    }
}
