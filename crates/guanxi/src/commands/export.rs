//! `guanxi export`: the store's records in guanxi's own CSV formats.

use std::fs::File;
use std::io::BufWriter;

use anyhow::Context as _;
use guanxi_import::CsvExport;
use serde::Serialize;

use crate::cli::{ExportArgs, ExportKind, Global};
use crate::commands::{Bar, default_db};
use crate::open::open;
use crate::output::report;

#[derive(Serialize)]
struct Exported {
    file: String,
    orders: u64,
    lines: u64,
}

pub async fn run(global: &Global, args: ExportArgs) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let ExportKind::Orders = args.kind;
    let file = File::create(&args.file).with_context(|| format!("cannot create {}", args.file.display()))?;
    let mut csv = CsvExport::orders(BufWriter::new(file))?;
    let bar = Bar::count(o.store.counts().await?.orders, "orders");
    let mut done = Exported {
        file: args.file.display().to_string(),
        orders: 0,
        lines: 0,
    };
    let mut after = 0;
    loop {
        let page = o.store.orders_after(after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for s in &page {
            csv.order(&s.order)?;
            done.lines += s.order.lines.len() as u64;
        }
        done.orders += page.len() as u64;
        bar.inc(page.len() as u64);
    }
    bar.finish();
    csv.finish()
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    report(global.json, &done, |d| {
        format!("wrote {} orders ({} lines) to {}\n", d.orders, d.lines, d.file)
    })
}
