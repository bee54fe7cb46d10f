//! `guanxi status`: what the store and the lake hold.

use serde::Serialize;

use crate::cli::Global;
use crate::commands::default_db;
use crate::open::open;
use crate::output::report;

#[derive(Serialize)]
struct Status {
    store: String,
    backend: guanxi_store::Backend,
    time_zone: String,
    counts: guanxi_store::Counts,
    lake: String,
    lake_stats: guanxi_lake::LakeStats,
    /// The engagement engine's problems: programs skipped, its last stop.
    engine: guanxi_engage::Health,
}

pub async fn run(global: &Global) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let status = Status {
        store: o.location.clone(),
        backend: o.store.backend(),
        time_zone: o.tz.to_string(),
        counts: o.store.counts().await?,
        lake: o.lake.root().display().to_string(),
        lake_stats: o.lake.stats()?,
        engine: guanxi_engage::Health::read(o.store.as_ref()).await?,
    };
    report(global.json, &status, |s| {
        let c = &s.counts;
        let mut engine = String::new();
        for p in &s.engine.programs {
            engine += &format!("engine: program '{}' is skipped: {}\n", p.program, p.error);
        }
        if let Some(stop) = &s.engine.last_stop {
            engine += &format!(
                "engine: stopped at {} ({}) and was restarted ({} restarts in all)\n",
                stop.at.format("%Y-%m-%d %H:%M:%S UTC"),
                stop.error,
                s.engine.restarts
            );
        }
        engine
            + &format!(
                "store {} ({:?}, {})\n  customers {}  orders {}  order lines {}  service records {}  reviews {}  messages {}\n\
             lake {}\n  {} files in {} partitions, {} live rows of {} orders ({} rows in all)\n",
                s.store,
                s.backend,
                s.time_zone,
                c.customers,
                c.orders,
                c.order_lines,
                c.service_records,
                c.reviews,
                c.messages,
                s.lake,
                s.lake_stats.files,
                s.lake_stats.partitions,
                s.lake_stats.live_rows,
                s.lake_stats.orders,
                s.lake_stats.rows
            )
    })
}
