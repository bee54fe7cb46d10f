//! `guanxi lake`: rebuild, compact and inspect the Parquet copy of order history.

use guanxi_lake::LakeOrder;
use serde::Serialize;

use crate::cli::{Global, LakeCommand};
use crate::commands::{Bar, default_db};
use crate::open::open;
use crate::output::report;

/// Orders read from the store per page while rebuilding.
const PAGE: u32 = 5000;

#[derive(Serialize)]
struct Done {
    action: &'static str,
    orders: u64,
    partitions_rewritten: usize,
    stats: guanxi_lake::LakeStats,
}

pub async fn run(global: &Global, cmd: LakeCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let mut done = Done {
        action: "stats",
        orders: 0,
        partitions_rewritten: 0,
        stats: Default::default(),
    };
    match cmd {
        LakeCommand::Rebuild => {
            done.action = "rebuild";
            let total = o.store.counts().await?.orders;
            let bar = Bar::count(total, "orders");
            let mut appender = o.lake.appender("rebuild")?;
            let mut after = 0;
            loop {
                let page = o.store.orders_after(after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for s in &page {
                    appender.push(LakeOrder {
                        id: s.id,
                        customer_id: s.customer_id,
                        revision: s.revision,
                        order: &s.order,
                    })?;
                }
                done.orders += page.len() as u64;
                bar.inc(page.len() as u64);
            }
            bar.finish();
            o.lake.replace_all(appender.finish()?)?;
        }
        LakeCommand::Compact => {
            done.action = "compact";
            done.partitions_rewritten = o.lake.compact()?;
        }
        LakeCommand::Stats => {}
    }
    done.stats = o.lake.stats()?;
    report(global.json, &done, |d| {
        let s = &d.stats;
        let mut out = match d.action {
            "rebuild" => format!("rebuilt the lake from {} orders\n", d.orders),
            "compact" => format!("compacted {} partitions\n", d.partitions_rewritten),
            _ => String::new(),
        };
        out += &format!(
            "{}: {} files in {} partitions, {} live rows of {} orders ({} rows in all)\n",
            o.lake.order_lines_dir().display(),
            s.files,
            s.partitions,
            s.live_rows,
            s.orders,
            s.rows
        );
        out
    })
}
