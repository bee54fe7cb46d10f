//! `guanxi serve`: the web UI over the store.

use std::net::SocketAddr;

use anyhow::Context as _;
use guanxi_web::AppState;

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
        tz: o.tz,
    };
    guanxi_web::serve(addr, state)
        .await
        .with_context(|| format!("serving on {addr}"))
}
