//! Importers for shop exports: generic CSV, Shopify, Taobao/Tmall and CDNOW orders, and
//! customers, service records and reviews CSVs.
//!
//! Design:
//! - **Streaming.** Files are read record by record (`table`), orders assembled from
//!   adjacent rows (`orders`), and written in batches: memory stays flat whatever the
//!   file size. What grows with the file is one small entry per order id, to catch an
//!   order id given twice.
//! - **All or nothing.** One import is one store transaction plus one staged lake append.
//!   At the first problem writing stops; parsing goes on to report every problem (the
//!   first [`MAX_LISTED`], then a count); the transaction is rolled back and the staged
//!   files deleted. With a rejects file, bad rows (and every row of an order with a bad
//!   row) go there with their reason, and the rest is imported.
//! - **Located problems.** Every [`Problem`] says `file:line:column: field: expected …`.
//!   No input can make the importer panic.
//! - **Idempotent.** Records are upserted by (source, external id) and compared by
//!   fingerprint; re-importing a file reports everything unchanged and writes nothing.
//! - Formats live in `formats/`, one module each, and know nothing of the store.

pub mod events;
mod export;
mod formats;
mod load;
mod orders;
mod problem;
mod rejects;
mod run;
mod table;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use guanxi_domain::{DecimalMark, ShopTz, Source};
use serde::Serialize;

pub use export::CsvExport;
pub use formats::catalogue::Entry as CatalogueEntry;
pub use formats::generic::Mapping;
pub use load::{Batch, Loader, Pipe};
pub use problem::Problem;
pub use run::import;
pub use table::{Encoding, EncodingChoice};

/// How many problems an error lists before it only counts.
pub const MAX_LISTED: usize = 20;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Orders,
    Customers,
    Service,
    Reviews,
    /// The product catalogue: products and keyword rules.
    Products,
}

impl Kind {
    /// As the command line names it (`guanxi import service`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Orders => "orders",
            Kind::Customers => "customers",
            Kind::Service => "service",
            Kind::Reviews => "reviews",
            Kind::Products => "products",
        }
    }
}

/// How an orders file is laid out. Customers, service and reviews files have one
/// format each, guanxi's own CSV (`Generic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Generic,
    Shopify,
    Taobao,
    Cdnow,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Generic => "generic",
            Format::Shopify => "shopify",
            Format::Taobao => "taobao",
            Format::Cdnow => "cdnow",
        }
    }
}

/// What an import is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub kind: Kind,
    pub format: Format,
    /// The namespace of the file's ids; defaults to the format's name.
    pub source: Option<Source>,
    pub encoding: EncodingChoice,
    /// guanxi's fields → the file's columns, for a file of another layout (`--map`;
    /// generic orders only).
    pub mapping: Option<Mapping>,
    /// How amounts write their decimals (`--decimal-comma`).
    pub decimal: DecimalMark,
    pub tz: ShopTz,
    /// Import the good rows and write the bad ones here, with their reason.
    pub rejects: Option<PathBuf>,
    /// When the import runs, for its record in the store's history.
    pub now: DateTime<Utc>,
}

impl Options {
    pub fn source(&self) -> Source {
        self.source
            .clone()
            .unwrap_or_else(|| Source::parse(self.format.name()).expect("format names are valid sources"))
    }
}

/// What an import did, printed by `guanxi import --json` and kept in the store.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub kind: Option<Kind>,
    pub format: Option<Format>,
    pub source: String,
    pub files: Vec<String>,
    pub rows_read: u64,
    pub orders_inserted: u64,
    pub orders_updated: u64,
    pub orders_unchanged: u64,
    /// Orders read whose buyer the files do not identify: imported for the shop's order
    /// figures, in no customer's profile.
    pub guest_orders: u64,
    pub customers_inserted: u64,
    pub customers_updated: u64,
    pub customers_unchanged: u64,
    /// Service records or reviews, for those kinds.
    pub records_inserted: u64,
    pub records_updated: u64,
    pub records_unchanged: u64,
    /// Keyword rules read (a products import given a keyword rules file replaces the
    /// catalogue's rules with them).
    pub keyword_rules: u64,
    pub customers_total: u64,
    pub orders_total: u64,
    pub order_lines_total: u64,
    /// Rows of a mapped log with no time at all (an export's unpaid orders with an empty
    /// payment time and no creation time): not imported, counted and named in warnings.
    pub undated_rows: u64,
    pub rejected: u64,
    pub rejects_file: Option<String>,
    /// What the shop should know that did not stop the import (an item report's order
    /// that no order report gives, items that do not add up): the first few, and a count.
    pub warnings: Vec<String>,
    pub warnings_total: u64,
    pub elapsed_ms: u64,
}

impl Summary {
    /// Adds the write counts of `other` (a writer's) to these.
    pub fn add_writes(&mut self, other: &Summary) {
        self.orders_inserted += other.orders_inserted;
        self.orders_updated += other.orders_updated;
        self.orders_unchanged += other.orders_unchanged;
        self.customers_inserted += other.customers_inserted;
        self.customers_updated += other.customers_updated;
        self.customers_unchanged += other.customers_unchanged;
        self.records_inserted += other.records_inserted;
        self.records_updated += other.records_updated;
        self.records_unchanged += other.records_unchanged;
        self.keyword_rules += other.keyword_rules;
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}", list(.problems, *.total))]
    Invalid { problems: Vec<Problem>, total: u64 },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] guanxi_store::StoreError),
    #[error(transparent)]
    Lake(#[from] guanxi_lake::LakeError),
    /// The writer task stopped or failed; the cause is reported by `Pipe::finish`.
    #[error("the import's writer stopped: {0}")]
    Writer(String),
    #[error("cannot write the rejects file {path}: {message}")]
    Rejects { path: String, message: String },
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Invalid { .. } => "import_invalid",
            ImportError::Usage(_) => "import_usage",
            ImportError::Store(e) => e.code(),
            ImportError::Lake(e) => e.code(),
            ImportError::Rejects { .. } => "import_rejects",
            ImportError::Writer(_) => "import_writer",
        }
    }
}

fn list(problems: &[Problem], total: u64) -> String {
    let mut s = String::new();
    for p in problems {
        s.push_str(&p.to_string());
        s.push('\n');
    }
    let more = total.saturating_sub(problems.len() as u64);
    if more > 0 {
        s.push_str(&format!(
            "… and {more} more problem{}\n",
            if more == 1 { "" } else { "s" }
        ));
    }
    s.push_str(&format!(
        "nothing was imported: {total} problem{} (fix them, or pass --skip-bad-rows REJECTS.csv to import the good rows)",
        if total == 1 { "" } else { "s" }
    ));
    s
}

/// Told how far an import has read, to draw a progress bar.
pub trait Progress {
    fn file(&mut self, name: &str, bytes: u64);
    fn advance(&mut self, bytes_read: u64);
    fn done(&mut self);
}

/// No progress display.
pub struct Quiet;

impl Progress for Quiet {
    fn file(&mut self, _: &str, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn done(&mut self) {}
}
