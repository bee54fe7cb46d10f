//! Coupons (docs/domain.md §6, issue 17): what a program's coupon step, a tier benefit or
//! a campaign gives a customer is a real coupon — a code the shop can honour, its value,
//! its validity and who received it — and the order that redeemed it is matched when the
//! order arrives (an import or a webhook naming the code).
//!
//! A shop defines its coupons by name in the settings (`[coupons.BIRTHDAY]`); programs,
//! tiers and campaigns name them. Each issuance has a key (a program step's ledger key, a
//! campaign's member, an operator's request) so that a coupon is issued once whatever
//! passes repeat.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A fixed amount off an order of at least the minimum spend (满减).
    Amount,
    /// The shipping fee (包邮); `value_cents` is what the shop pays for it.
    FreeShipping,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Amount => "amount",
            Kind::FreeShipping => "free-shipping",
        }
    }

    pub fn parse(s: &str) -> Result<Kind, String> {
        match s {
            "amount" => Ok(Kind::Amount),
            "free-shipping" => Ok(Kind::FreeShipping),
            _ => Err(format!("expected a coupon kind amount or free-shipping, found {s:?}")),
        }
    }
}

/// A coupon the shop offers (`[coupons.NAME]` in the settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// What customers read (`生日礼券 ¥20`).
    pub title: String,
    #[serde(default = "amount")]
    pub kind: Kind,
    /// What it saves the customer, and so costs the shop when redeemed (cents).
    pub value_cents: i64,
    /// The order total it needs (cents; 0: any order).
    #[serde(default)]
    pub min_spend_cents: i64,
    /// Days it is valid from issuance.
    #[serde(default = "thirty")]
    pub valid_days: u32,
}

fn amount() -> Kind {
    Kind::Amount
}

fn thirty() -> u32 {
    30
}

impl Definition {
    /// When a coupon issued at `at` stops being valid.
    pub fn expires(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at + Duration::days(i64::from(self.valid_days))
    }
}

/// The shop's coupons by name. The defaults are those the built-in programs and tier
/// benefits name; a shop's `[coupons.…]` tables replace them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Definitions(pub BTreeMap<String, Definition>);

/// The coupon a birthday gift benefit issues.
pub const BIRTHDAY: &str = "BIRTHDAY";
/// The coupon a free-shipping benefit issues.
pub const FREE_SHIPPING: &str = "FREE-SHIPPING";

impl Default for Definitions {
    fn default() -> Definitions {
        let mut d = BTreeMap::new();
        d.insert(
            BIRTHDAY.to_string(),
            Definition {
                title: "生日礼券 ¥20 (birthday gift)".into(),
                kind: Kind::Amount,
                value_cents: 2_000,
                min_spend_cents: 10_000,
                valid_days: 30,
            },
        );
        d.insert(
            FREE_SHIPPING.to_string(),
            Definition {
                title: "包邮券 (free shipping)".into(),
                kind: Kind::FreeShipping,
                value_cents: 1_000,
                min_spend_cents: 0,
                valid_days: 30,
            },
        );
        Definitions(d)
    }
}

impl Definitions {
    pub fn get(&self, name: &str) -> Option<&Definition> {
        self.0.get(name)
    }

    /// The definition of `name`, or what was expected.
    pub fn named(&self, name: &str) -> Result<&Definition, String> {
        self.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.0.keys().map(String::as_str).collect();
            format!(
                "no coupon {name:?} is defined: expected one of {} (define it as [coupons.{name}] in the settings)",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })
    }
}

/// An issued coupon as the shop and the customer see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coupon {
    pub code: String,
    pub customer_id: i64,
    /// The definition it was issued from.
    pub definition: String,
    pub kind: Kind,
    pub value_cents: i64,
    pub min_spend_cents: i64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Who issued it: a program (`second-purchase`, `campaign:618`), `tier:金卡`, or
    /// `manual:operator`.
    pub source: String,
    /// The order that redeemed it (its id) and when it was paid.
    pub redeemed_order: Option<i64>,
    pub redeemed_at: Option<DateTime<Utc>>,
}

/// Where a coupon stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Redeemed,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Redeemed => "redeemed",
            Status::Expired => "expired",
        }
    }
}

impl Coupon {
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        if self.redeemed_order.is_some() {
            Status::Redeemed
        } else if now >= self.expires_at {
            Status::Expired
        } else {
            Status::Open
        }
    }
}

/// Crockford's base-32 alphabet: no I, L, O or U, so a code read aloud or typed from an
/// SMS is not misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A coupon code from 50 random bits: `GX` and ten characters in two groups
/// (`GX-7K2MQ-9XD4R`). The bits come from the caller (the domain draws no randomness);
/// 2^50 codes make a guessed one a one-in-10^15 chance per try.
pub fn code(random: u64) -> String {
    let mut out = String::from("GX-");
    for i in 0..10 {
        if i == 5 {
            out.push('-');
        }
        out.push(ALPHABET[((random >> (5 * i)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_differ_with_their_bits() {
        let a = code(0);
        assert_eq!(a, "GX-00000-00000");
        let b = code(u64::MAX);
        assert_eq!(b, "GX-ZZZZZ-ZZZZZ");
        assert_ne!(code(1), code(2));
        assert!(!code(0x3_1234_5678_9abc).contains(['I', 'L', 'O', 'U']));
    }

    #[test]
    fn status_follows_redemption_then_expiry() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
        let d = Definitions::default();
        let def = d.named(BIRTHDAY).unwrap();
        let mut c = Coupon {
            code: code(7),
            customer_id: 1,
            definition: BIRTHDAY.into(),
            kind: def.kind,
            value_cents: def.value_cents,
            min_spend_cents: def.min_spend_cents,
            issued_at: at,
            expires_at: def.expires(at),
            source: "manual:ops".into(),
            redeemed_order: None,
            redeemed_at: None,
        };
        assert_eq!(c.status(at + Duration::days(29)), Status::Open);
        assert_eq!(c.status(at + Duration::days(30)), Status::Expired);
        c.redeemed_order = Some(9);
        assert_eq!(c.status(at + Duration::days(30)), Status::Redeemed);
        let e = d.named("WELCOME").unwrap_err();
        assert!(e.contains("expected one of BIRTHDAY, FREE-SHIPPING"), "{e}");
    }
}
