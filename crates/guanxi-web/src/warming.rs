//! What the server prepares right after it starts — the shop reports of the dashboard and
//! the orders page, the current build's profile columns for the customers page — and
//! `GET /healthz`, which answers 503 until that is done.
//!
//! Pages are served while the server warms, but a page that needs what is being read waits
//! for it (`guanxi bench big` at a million customers: ready 1.0–1.7 s after the start): a load
//! balancer, a deployment script or `guanxi bench big` asks `/healthz` before it sends
//! users, as readiness probes do.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The warming work still running.
#[derive(Debug, Default)]
pub struct Warming {
    left: AtomicUsize,
}

/// Counts one piece of warming down when it ends, however it ends (a panic included).
struct Done(Arc<Warming>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.left.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Warming {
    /// Runs `work` on the runtime, counted until it ends.
    pub fn spawn(self: &Arc<Self>, work: impl Future<Output = ()> + Send + 'static) {
        self.left.fetch_add(1, Ordering::SeqCst);
        let done = Done(self.clone());
        tokio::spawn(async move {
            let _done = done;
            work.await;
        });
    }

    /// Whether every piece of warming has ended.
    pub fn ready(&self) -> bool {
        self.left.load(Ordering::SeqCst) == 0
    }
}

#[derive(serde::Serialize)]
struct Health {
    /// `ready`, or `warming` while the start-up reads run.
    status: &'static str,
}

/// `GET /healthz`: 200 `{"status": "ready"}` once the start-up warming has ended, 503
/// `{"status": "warming"}` before. Public: a probe has no session.
pub async fn healthz(State(s): State<AppState>) -> Response {
    if s.warming.ready() {
        (StatusCode::OK, Json(Health { status: "ready" })).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "warming" })).into_response()
    }
}
