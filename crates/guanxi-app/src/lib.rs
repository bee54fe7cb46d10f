//! guanxi's use cases, each written once as a function over an open shop (its store, its
//! lake, its time zone) and the engines: the CLI's commands, the web pages and the API
//! call these and only present what they return. A use case returns typed data (never
//! JSON for its caller to read back by string keys) and an [`AppError`] with a stable
//! code.
//!
//! Here so far: the profile build ([`profiles`]), staff and their sessions
//! ([`access`]), turning programs on and off ([`programs`]), saving segments
//! ([`segments`]), a customer's 360 ([`customers`]), live events from shops
//! ([`events`]), a person's data exported or erased ([`privacy`]), service tasks
//! ([`tasks`]), campaigns created and launched ([`campaigns`]), service records and reviews ([`service`]), members' points ([`points`]), coupons ([`coupons`]), imports recorded with who ran them ([`imports`]), customers exported
//! ([`exports`]). The rest of the use cases still
//! live where they were first written (the binary's commands, the web's pages) and move
//! one at a time.

pub mod access;
pub mod campaigns;
pub mod coupons;
pub mod customers;
pub mod error;
pub mod events;
pub mod exports;
pub mod imports;
pub mod points;
pub mod privacy;
pub mod profiles;
pub mod programs;
pub mod segments;
pub mod service;
pub mod tasks;

pub use error::{AppError, Kind};

use guanxi_domain::ShopTz;
use guanxi_lake::Lake;
use guanxi_store::Store;

/// An open shop as a use case sees it: the store, the lake beside it, the shop's time
/// zone. Borrowed from whoever opened them (the CLI's `Opened`, the web's state).
#[derive(Clone, Copy)]
pub struct Shop<'a> {
    pub store: &'a dyn Store,
    pub lake: &'a Lake,
    pub tz: ShopTz,
}
