//! `guanxi serve`: the web UI over the store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context as _;
use std::sync::Arc;

use guanxi_analytics::Engine;
use guanxi_domain::ShopTz;
use guanxi_domain::report::{Granularity, PeriodOrders, Reports};
use guanxi_lake::Lake;
use guanxi_store::Store;
use guanxi_web::{Analytics, AppState};

use crate::cli::Global;
use crate::commands::default_db;
use crate::open::{Opened, open};

pub async fn run(global: &Global, addr: SocketAddr) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    eprintln!("serving {} at http://{addr}/ (Ctrl-C stops)", o.location);
    serve(global, &o, addr).await
}

/// Serves the web UI for an open store until the process ends, with the engagement
/// scheduler and workers beside it (they do nothing until a program is enabled).
pub async fn serve(global: &Global, o: &Opened, addr: SocketAddr) -> anyhow::Result<()> {
    let (settings, _) = super::config::load(global)?;
    let engine = super::program::engine(o, &settings, 60, 500).await?;
    let reply_secret = match settings.channels.sms.as_ref().and_then(|g| g.reply_secret_env.as_ref()) {
        Some(env) => Some(
            std::env::var(env)
                .with_context(|| format!("channels.sms.reply_secret_env: {env} is not set"))?
                .into_bytes(),
        ),
        None => None,
    };
    let responses = guanxi_web::Responses {
        links: engine.worker.links.clone(),
        shop_url: settings.channels.shop_url.clone(),
        inbound_secret: reply_secret,
    };
    tokio::spawn(guanxi_engage::supervise(engine));
    let state = AppState {
        store: o.store.clone(),
        lake: o.lake.clone(),
        analytics: Arc::new(LakeAnalytics {
            lake: o.lake.clone(),
            store: o.store.clone(),
            tz: o.tz,
            occasion_gap: settings.cycle.occasion_gap(),
            reports: Default::default(),
            figures: Default::default(),
        }),
        tz: o.tz,
        responses: Some(responses),
        counts: Default::default(),
    };
    // The dashboard's monthly figures and the orders page's default (quarters), computed
    // before the first visit asks.
    let warm = state.analytics.clone();
    tokio::spawn(async move {
        let _ = warm.order_reports(Granularity::Month).await;
        let _ = warm.order_figures(Granularity::Quarter).await;
    });
    // And the current build's profile columns, for the customers page's live counts.
    let warm = state.clone();
    tokio::spawn(async move {
        if let Ok(Some(build)) = warm.store.latest_build().await {
            let _ = warm.counts.columns(&warm, &build).await;
        }
    });
    guanxi_web::serve(addr, state)
        .await
        .with_context(|| format!("serving on {addr}"))
}

/// The web UI's reports over all orders, computed when a page asks (one pass over the
/// lake, or over the store's orders for the shop's order figures) and kept until the
/// lake's files or the merges change — every import that changes an order writes the
/// lake.
struct LakeAnalytics {
    lake: Lake,
    store: Arc<dyn Store>,
    tz: ShopTz,
    /// The `[cycle]` setting: cycles are measured over purchase occasions.
    occasion_gap: chrono::Duration,
    reports: Cache<Reports>,
    figures: Cache<Vec<PeriodOrders>>,
}

/// Held while a value is computed, so that a page asking for what the start-up warming
/// (or another page) is computing waits for it instead of computing it again beside it.
type Cache<T> = tokio::sync::Mutex<HashMap<Granularity, (Version, T)>>;

/// What the reports were computed from: every lake file with its size and modification
/// time (an import or compaction writes new files), and the merges.
type Version = (Vec<(PathBuf, u64, Option<SystemTime>)>, Vec<(i64, i64)>);

impl LakeAnalytics {
    async fn version(&self) -> anyhow::Result<Version> {
        let files = self
            .lake
            .files()?
            .into_iter()
            .map(|f| {
                let meta = std::fs::metadata(&f).ok();
                let size = meta.as_ref().map_or(0, |m| m.len());
                (f, size, meta.and_then(|m| m.modified().ok()))
            })
            .collect();
        Ok((files, self.store.merged_into().await?))
    }

    /// `cache`'s value for `granularity` while the lake and the merges are as they were,
    /// else `compute`'s (kept). One computation at a time per cache.
    async fn cached<T: Clone>(
        &self,
        cache: &Cache<T>,
        granularity: Granularity,
        compute: impl AsyncFnOnce(&Version) -> anyhow::Result<T>,
    ) -> Result<T, String> {
        let version = self.version().await.map_err(|e| format!("{e:#}"))?;
        let mut held = cache.lock().await;
        if let Some((v, r)) = held.get(&granularity)
            && *v == version
        {
            return Ok(r.clone());
        }
        let value = compute(&version).await.map_err(|e| format!("{e:#}"))?;
        held.insert(granularity, (version, value.clone()));
        Ok(value)
    }
}

#[async_trait::async_trait]
impl Analytics for LakeAnalytics {
    async fn order_reports(&self, granularity: Granularity) -> Result<Reports, String> {
        self.cached(&self.reports, granularity, async |version: &Version| {
            let engine = Engine::open(&self.lake).await?;
            let as_of = super::profile::as_of_or_last(&engine, self.tz, None, "as-of").await?;
            Ok(
                guanxi_analytics::order_reports(&engine, as_of, self.tz, &version.1, granularity, self.occasion_gap)
                    .await?,
            )
        })
        .await
    }

    async fn order_figures(&self, granularity: Granularity) -> Result<Vec<PeriodOrders>, String> {
        self.cached(&self.figures, granularity, async |_: &Version| {
            Ok(guanxi_store::tables::order_figures(self.store.as_ref(), self.tz, granularity).await?)
        })
        .await
    }
}
