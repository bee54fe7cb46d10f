//! `guanxi serve`: the web UI over the store.

use std::net::SocketAddr;

use anyhow::Context as _;
use std::sync::Arc;

use guanxi_analytics::Engine;
use guanxi_domain::ShopTz;
use guanxi_domain::report::{Granularity, Reports};
use guanxi_lake::Lake;
use guanxi_store::Store;
use guanxi_web::{Analytics, AppState};

use crate::cli::Global;
use crate::commands::default_db;
use crate::open::{Opened, open};

pub async fn run(global: &Global, addr: SocketAddr) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    eprintln!("serving {} at http://{addr}/ (Ctrl-C stops)", o.location);
    serve(&o, addr).await
}

/// Serves the web UI for an open store until the process ends.
pub async fn serve(o: &Opened, addr: SocketAddr) -> anyhow::Result<()> {
    let state = AppState {
        store: o.store.clone(),
        lake: o.lake.clone(),
        analytics: Arc::new(LakeAnalytics {
            lake: o.lake.clone(),
            store: o.store.clone(),
            tz: o.tz,
        }),
        tz: o.tz,
    };
    guanxi_web::serve(addr, state)
        .await
        .with_context(|| format!("serving on {addr}"))
}

/// The web UI's reports over the lake, computed when a page asks (one DataFusion pass).
struct LakeAnalytics {
    lake: Lake,
    store: Arc<dyn Store>,
    tz: ShopTz,
}

#[async_trait::async_trait]
impl Analytics for LakeAnalytics {
    async fn order_reports(&self, granularity: Granularity) -> Result<Reports, String> {
        let run = async {
            let engine = Engine::open(&self.lake).await?;
            let as_of = super::profile::as_of_or_last(&engine, self.tz, None, "as-of").await?;
            let merged = self.store.merged_into().await?;
            Ok::<_, anyhow::Error>(
                guanxi_analytics::order_reports(&engine, as_of, self.tz, &merged, granularity).await?,
            )
        };
        run.await.map_err(|e| format!("{e:#}"))
    }
}
