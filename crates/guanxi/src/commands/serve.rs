//! `guanxi serve`: the web UI over the store.

use std::net::SocketAddr;

use anyhow::Context as _;
use std::sync::Arc;

use guanxi_analytics::{ReportsBasis, ShopReports};
use guanxi_domain::ShopTz;
use guanxi_domain::report::{Granularity, PeriodOrders, Reports};
use guanxi_lake::Lake;
use guanxi_store::Store;
use guanxi_web::{Analytics, AppState};

use crate::cli::Global;
use crate::commands::default_db;
use crate::open::{Opened, open};

pub async fn run(global: &Global, addr: SocketAddr, quotas: guanxi_web::auth::Quotas) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    eprintln!("serving {} at http://{addr}/ (Ctrl-C stops)", o.location);
    serve(global, &o, addr, quotas).await
}

/// Serves the web UI for an open store until the process ends, with the engagement
/// scheduler and workers beside it (they do nothing until a program is enabled).
pub async fn serve(
    global: &Global,
    o: &Opened,
    addr: SocketAddr,
    quotas: guanxi_web::auth::Quotas,
) -> anyhow::Result<()> {
    let (settings, _) = super::config::load(global)?;
    let engine = super::program::engine(o, &settings, 60, 500).await?;
    // One copy of the latest build's profile columns for the live counts and the
    // scheduler's segment members.
    let columns = engine.columns.clone();
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
    // Live events: the secrets they are signed with, from the environment (never a
    // settings file that may be shared); each event applied wakes the engine.
    let secret = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|s| !s.is_empty())
            .map(String::into_bytes)
    };
    let live = guanxi_web::events::Live {
        shopify_secret: secret("GUANXI_SHOPIFY_SECRET"),
        events_secret: secret("GUANXI_EVENTS_SECRET"),
        wake: engine.wake.clone(),
    };
    let writing = guanxi_app::programs::Writing {
        templates: engine.worker.templates.clone(),
        shop_name: settings.channels.shop_name.clone(),
        language: settings.channels.language.clone(),
    };
    tokio::spawn(guanxi_engage::supervise(engine));
    // The membership jobs (tiers, earning, programs' points, expiry) every hour; each is
    // keyed, so other instances doing the same change nothing. The first a minute after
    // the start: at a million members they read for seconds, and the first page views
    // wait for the pages' own warming (profile columns, shop reports) on the same cores.
    let (store, tz, membership) = (o.store.clone(), o.tz, settings.clone());
    tokio::spawn(async move {
        let hour = std::time::Duration::from_secs(3600);
        let first = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut every = tokio::time::interval_at(first, hour);
        loop {
            every.tick().await;
            let now = chrono::Utc::now();
            let period = guanxi_app::points::period(now, tz);
            match guanxi_app::points::maintain(store.as_ref(), &membership, &period, now).await {
                Ok(m) => tracing::info!(
                    earned = m.earned.earned,
                    granted = m.granted.points,
                    expired = m.expired.points,
                    tier_changes = m.tiers.changes,
                    "membership jobs ran"
                ),
                Err(e) => tracing::warn!("membership jobs: {e}"),
            }
        }
    });
    let state = AppState {
        store: o.store.clone(),
        lake: o.lake.clone(),
        analytics: Arc::new(LakeAnalytics {
            lake: o.lake.clone(),
            store: o.store.clone(),
            tz: o.tz,
            occasion_gap: settings.cycle.occasion_gap(),
            held: Default::default(),
        }),
        tz: o.tz,
        responses: Some(responses),
        counts: columns,
        limits: std::sync::Arc::new(guanxi_web::auth::Limits::new(quotas)),
        live,
        writing,
        membership: Arc::new(guanxi_app::points::Membership::of(&settings)),
        warming: Default::default(),
    };
    // The dashboard's monthly figures and the orders page's default (quarters), computed
    // before the first visit asks; `/healthz` says "warming" until they and the columns
    // below are held. A failure here is the page's to report when it asks again.
    let warm = state.analytics.clone();
    state.warming.spawn(async move {
        let _ = warm.order_reports(Granularity::Month).await;
        let _ = warm.order_figures(Granularity::Quarter).await;
    });
    // And the current build's profile columns, for the customers page's live counts.
    let warm = state.clone();
    state.warming.spawn(async move {
        if let Ok(Some(build)) = warm.store.latest_build().await {
            let _ = warm.counts.of(warm.store.as_ref(), &build).await;
        }
    });
    guanxi_web::serve(addr, state)
        .await
        .with_context(|| format!("serving on {addr}"))
}

/// The web UI's reports over all orders: the shop's reports as of the last order, held
/// in memory while the lake and the merges are what they were computed from; else those
/// the last profile build (or an earlier computation) kept beside the lake, or one pass
/// over it. Every import that changes an order writes the lake.
struct LakeAnalytics {
    lake: Lake,
    store: Arc<dyn Store>,
    tz: ShopTz,
    /// The `[cycle]` setting: cycles are measured over purchase occasions.
    occasion_gap: chrono::Duration,
    /// Held while they are computed, so that a page asking for what the start-up warming
    /// (or another page) is computing waits for it instead of computing it again beside it.
    held: tokio::sync::Mutex<Option<ShopReports>>,
}

impl LakeAnalytics {
    /// `pick` of the current shop reports (`None`: the lake holds no orders).
    async fn current<T>(&self, pick: impl FnOnce(Option<&ShopReports>) -> Result<T, String>) -> Result<T, String> {
        let text = |e: anyhow::Error| format!("{e:#}");
        let merged = self.store.merged_into().await.map_err(|e| text(e.into()))?;
        let basis = ReportsBasis::of(&self.lake, &merged, self.tz, self.occasion_gap).map_err(|e| text(e.into()))?;
        let mut held = self.held.lock().await;
        if held.as_ref().is_none_or(|r| r.basis != basis) {
            *held = guanxi_analytics::current_shop_reports(&self.lake, self.tz, basis)
                .await
                .map_err(|e| text(e.into()))?;
        }
        pick(held.as_ref())
    }
}

#[async_trait::async_trait]
impl Analytics for LakeAnalytics {
    async fn order_reports(&self, granularity: Granularity) -> Result<Reports, String> {
        self.current(|r| {
            r.and_then(|r| r.reports(granularity).cloned())
                .ok_or_else(|| format!("{:#}", guanxi_app::profiles::empty_lake()))
        })
        .await
    }

    async fn order_figures(&self, granularity: Granularity) -> Result<Vec<PeriodOrders>, String> {
        self.current(|r| {
            Ok(r.and_then(|r| r.figures(granularity))
                .map(<[_]>::to_vec)
                .unwrap_or_default())
        })
        .await
    }
}
