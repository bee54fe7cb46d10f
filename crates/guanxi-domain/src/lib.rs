//! The domain of guanxi: what an online shop's CRM knows about customers and orders,
//! and the rules over it (see `docs/domain.md`).
//!
//! Design:
//! - **Pure.** No I/O, no async, no wall clock: every function takes what it needs
//!   (an as-of date, the shop's time zone) as an argument, so every figure is reproducible.
//! - **Parse, don't validate.** Values that can be wrong arrive through `parse` functions
//!   returning types that cannot hold a bad value: [`Cents`] (money in integer cents),
//!   [`Email`], [`Mobile`], [`Source`], [`OrderStatus`], [`Rating`].
//! - **Records, not rows.** [`Order`], [`Customer`], [`ServiceRecord`] and [`Review`] are
//!   what importers produce and stores keep; their [`Fingerprint`] lets a store tell an
//!   unchanged re-import from an update without comparing column by column.
//!
//! Later layers add measures, classes and models here, with the same rules.

/// Declares a closed set of names: an enum with `as_str`, `parse` (to [`UnknownName`]),
/// `ALL`, `Display` and serde as the name. One definition, so that stores, importers and
/// the CLI spell each name the same way.
macro_rules! names {
    ($(#[$m:meta])* pub enum $ty:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $ty { $($(#[$vm])* $v),+ }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$v),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s),+ }
            }

            pub fn parse(s: &str) -> Result<$ty, $crate::UnknownName> {
                match s.trim() {
                    $($s => Ok($ty::$v),)+
                    other => Err($crate::UnknownName {
                        found: other.to_string(),
                        expected: concat!($($s, " "),+),
                    }),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod access;
pub mod campaign;
pub mod catalogue;
pub mod clv;
mod contact;
pub mod coupon;
mod customer;
mod fingerprint;
pub mod interner;
mod merges;
mod message;
mod money;
mod order;
pub mod points;
pub mod profile;
pub mod program;
pub mod report;
mod review;
pub mod segment;
mod service;
mod source;
pub mod tier;
mod time;

pub use contact::{Contact, ContactError, Email, Mobile, masked, shown_id};
pub use customer::{Channel, Consent, ConsentState, Customer, CustomerKey, Gender, most_restrictive};
pub use fingerprint::Fingerprint;
pub use merges::Merges;
pub use message::MessageStatus;
pub use money::{Cents, DecimalMark, MoneyError};
pub use order::{Order, OrderKey, OrderLine, OrderStatus, StatusTimes};
pub use review::{Rating, Review};
pub use service::{ServiceKind, ServiceRecord, ServiceStatus};
pub use source::Source;
pub use time::{ShopTz, TimeError, parse_date, parse_timestamp};

/// A value that is not one of a closed set of names, with the names it could be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of {expected}, found {found:?}")]
pub struct UnknownName {
    pub found: String,
    pub expected: &'static str,
}
