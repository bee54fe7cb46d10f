//! `guanxi import`: files into the store and the lake.

use guanxi_domain::Source;
use guanxi_import::{Encoding, EncodingChoice, Format, Kind, Options, Summary};

use crate::cli::{FormatArg, Global, ImportArgs, ImportKind};
use crate::commands::{Bar, default_db};
use crate::open::open;
use crate::output::report;

pub async fn run(global: &Global, args: ImportArgs) -> anyhow::Result<()> {
    let kind = match args.kind {
        ImportKind::Orders => Kind::Orders,
        ImportKind::Customers => Kind::Customers,
        ImportKind::Service => Kind::Service,
        ImportKind::Reviews => Kind::Reviews,
        ImportKind::Products => Kind::Products,
    };
    let format = match args.format {
        FormatArg::Generic => Format::Generic,
        FormatArg::Shopify => Format::Shopify,
        FormatArg::Taobao => Format::Taobao,
        FormatArg::Cdnow => Format::Cdnow,
    };
    let encoding = match &args.encoding {
        Some(e) => EncodingChoice::parse(e).map_err(|e| anyhow::anyhow!("--encoding: {e}"))?,
        None if format == Format::Taobao => EncodingChoice::Auto,
        None => EncodingChoice::Fixed(Encoding::Utf8),
    };
    let source = args
        .source
        .as_deref()
        .map(Source::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--source: {e}"))?;
    let opened = open(global, default_db()).await?;
    let opts = Options {
        kind,
        format,
        source,
        encoding,
        mapping: args
            .map
            .as_deref()
            .map(guanxi_import::Mapping::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--map: {e}"))?,
        decimal: if args.decimal_comma {
            guanxi_domain::DecimalMark::Comma
        } else {
            guanxi_domain::DecimalMark::Point
        },
        tz: opened.tz,
        rejects: args.skip_bad_rows,
        now: chrono::Utc::now(),
    };
    let mut bar = Bar::bytes();
    let by = guanxi_app::access::Actor {
        name: super::customer::actor(None),
        origin: "cli".into(),
    };
    let summary = guanxi_app::imports::import(opened.shop(), &args.files, &opts, &mut bar, &by).await?;
    report(global.json, &summary, text)
}

fn text(s: &Summary) -> String {
    let mut out = format!(
        "read {} rows from {} file{}\n",
        s.rows_read,
        s.files.len(),
        if s.files.len() == 1 { "" } else { "s" }
    );
    if s.orders_inserted + s.orders_updated + s.orders_unchanged > 0 {
        out += &format!(
            "orders: {} inserted, {} updated, {} unchanged\n",
            s.orders_inserted, s.orders_updated, s.orders_unchanged
        );
    }
    if s.records_inserted + s.records_updated + s.records_unchanged > 0 {
        out += &format!(
            "{}: {} inserted, {} updated, {} unchanged\n",
            if s.kind == Some(Kind::Products) {
                "products"
            } else {
                "records"
            },
            s.records_inserted,
            s.records_updated,
            s.records_unchanged
        );
    }
    if s.keyword_rules > 0 {
        out += &format!(
            "keyword rules: {} (they replace the catalogue's rules)\n",
            s.keyword_rules
        );
    }
    if s.kind != Some(Kind::Products) {
        out += &format!(
            "customers: {} inserted, {} updated, {} unchanged\n",
            s.customers_inserted, s.customers_updated, s.customers_unchanged
        );
    }
    if s.guest_orders > 0 {
        out += &format!(
            "guest orders (no buyer in the file): {}, counted in the shop's order figures, in no customer's profile\n",
            s.guest_orders
        );
    }
    for w in &s.warnings {
        out += &format!("warning: {w}\n");
    }
    if s.warnings_total > s.warnings.len() as u64 {
        out += &format!("… and {} more warnings\n", s.warnings_total - s.warnings.len() as u64);
    }
    if let Some(f) = &s.rejects_file {
        out += &format!("rejected {} rows, written to {f}\n", s.rejected);
    }
    out += &format!(
        "the store now holds {} customers, {} orders, {} order lines ({} ms)\n",
        s.customers_total, s.orders_total, s.order_lines_total, s.elapsed_ms
    );
    out
}
