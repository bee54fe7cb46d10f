//! Reviews (评价) with the platform's detailed seller ratings (DSR).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CustomerKey, Fingerprint, Source};

/// A rating from 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Rating(u8);

impl Rating {
    pub fn parse(s: &str) -> Result<Rating, String> {
        s.trim()
            .parse::<u8>()
            .ok()
            .and_then(|v| Rating::try_from(v).ok())
            .ok_or_else(|| format!("expected a rating from 1 to 5, found {s:?}"))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Rating {
    type Error = String;
    fn try_from(v: u8) -> Result<Rating, String> {
        if (1..=5).contains(&v) {
            Ok(Rating(v))
        } else {
            Err(format!("expected a rating from 1 to 5, found {v}"))
        }
    }
}

impl From<Rating> for u8 {
    fn from(r: Rating) -> u8 {
        r.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub source: Source,
    pub external_id: String,
    pub customer: CustomerKey,
    pub order_external_id: Option<String>,
    /// Item as described 宝贝与描述相符.
    pub item_rating: Option<Rating>,
    /// Seller's service 卖家的服务态度.
    pub service_rating: Option<Rating>,
    /// Logistics 物流服务.
    pub logistics_rating: Option<Rating>,
    pub text: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Review {
    pub fn fingerprint(&self) -> i64 {
        let mut f = Fingerprint::new();
        f.str(self.source.as_str())
            .str(&self.external_id)
            .str(self.customer.source.as_str())
            .str(&self.customer.external_id)
            .opt_str(self.order_external_id.as_deref());
        for r in [self.item_rating, self.service_rating, self.logistics_rating] {
            f.opt_i64(r.map(|r| i64::from(r.get())));
        }
        f.opt_str(self.text.as_deref()).i64(self.created_at.timestamp_micros());
        f.finish()
    }
}
