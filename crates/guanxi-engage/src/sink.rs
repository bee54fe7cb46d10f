//! A local HTTP endpoint standing in for an SMS gateway or a webhook receiver, for the
//! outbox benchmark and the tests: it accepts every POST, and delivers each idempotency key
//! once — a repeat (a crashed worker's retry) is answered 200 and counted, not delivered
//! again — which is what the real providers guanxi targets do with the key.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One delivered request.
#[derive(Debug, Clone)]
pub struct SinkDelivery {
    pub path: String,
    pub key: String,
    pub body: String,
    pub signature: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: u64,
    repeats: u64,
    fail_next: u64,
    keys: HashSet<String>,
    deliveries: Vec<SinkDelivery>,
}

/// A running sink; it stops with the runtime it was started on.
#[derive(Clone)]
pub struct Sink {
    /// `http://127.0.0.1:PORT` (POST to any path under it).
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Sink {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Sink> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().route("/{*path}", post(receive)).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Sink { url, inner })
    }

    /// (requests received, repeats of a delivered key, deliveries).
    pub fn counts(&self) -> (u64, u64, u64) {
        let i = self.inner.lock().expect("sink lock");
        (i.requests, i.repeats, i.deliveries.len() as u64)
    }

    pub fn deliveries(&self) -> Vec<SinkDelivery> {
        self.inner.lock().expect("sink lock").deliveries.clone()
    }

    /// Answers the next `n` requests 503 (a gateway outage), to exercise retries.
    pub fn fail_next(&self, n: u64) {
        self.inner.lock().expect("sink lock").fail_next = n;
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut i = inner.lock().expect("sink lock");
    i.requests += 1;
    if i.fail_next > 0 {
        i.fail_next -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Some(key) = header("idempotency-key") else {
        return StatusCode::BAD_REQUEST;
    };
    if !i.keys.insert(key.clone()) {
        i.repeats += 1;
        return StatusCode::OK;
    }
    i.deliveries.push(SinkDelivery {
        path: uri.path().to_string(),
        key,
        body: String::from_utf8_lossy(&body).into_owned(),
        signature: header("x-guanxi-signature"),
    });
    StatusCode::OK
}
