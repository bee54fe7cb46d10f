//! A local HTTP endpoint standing in for an SMS gateway or a webhook receiver, for the
//! outbox benchmark and the tests (with the shoppers, program and queue they use): it accepts every POST, and delivers each idempotency key
//! once — a repeat (a crashed worker's retry) is answered 200 and counted, not delivered
//! again — which is what the real providers guanxi targets do with the key.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Duration, Utc};
use guanxi_domain::program::{ContactPolicy, Delivery, GatewayDelivery, Priority, QuietHours, ledger_key};
use guanxi_domain::{Channel, Consent, ConsentState, Contact, Customer, CustomerKey, ShopTz, Source};
use guanxi_store::{NewMessage, Plan, ProgramState, Store};

use crate::channel::Gateway;
use crate::{Channels, EngageError, LinkKey, Templates, Worker};

/// The program the sink's shoppers are told by: one SMS, care priority.
pub const PROGRAM: &str = "name = \"sink\"\ntitle = \"Sink\"\npriority = \"care\"\ntrigger = { order = \"paid\" }\n\n\
    [[steps]]\nname = \"touch\"\nafter = \"0m\"\naction = { send = \"sms\", template = \"care-signed\" }\n";

/// `n` shoppers of `source` with a mobile and SMS consent, stored; their ids in order.
pub async fn shoppers(store: &dyn Store, source: &str, n: u64) -> Result<Vec<i64>, EngageError> {
    let source = Source::parse(source).map_err(EngageError::Program)?;
    let consent_at = Utc::now();
    let customers: Vec<Customer> = (0..n)
        .map(|i| {
            let mut c = Customer::bare(CustomerKey {
                source: source.clone(),
                external_id: format!("B{i:08}"),
            });
            c.name = Some(format!("顾客{i}"));
            c.mobile = Some(Contact::mobile(&format!("139{:08}", i % 100_000_000)));
            c.consents = vec![Consent {
                channel: Channel::Sms,
                state: ConsentState::Granted,
                recorded_at: consent_at,
                evidence: "sink".into(),
            }];
            c
        })
        .collect();
    let mut tx = store.begin().await?;
    for chunk in customers.chunks(5000) {
        tx.upsert_customers(chunk).await?;
    }
    tx.commit().await?;
    let mut ids = Vec::with_capacity(customers.len());
    for c in &customers {
        let id = store.customer_id(&c.key).await?;
        ids.push(id.ok_or_else(|| EngageError::Store(format!("customer {} not stored", c.key.external_id)))?);
    }
    Ok(ids)
}

/// Stores [`PROGRAM`], enabled or disabled.
pub async fn save_program(store: &dyn Store, enabled: bool) -> Result<(), EngageError> {
    let state = ProgramState {
        name: "sink".into(),
        definition: PROGRAM.into(),
        enabled,
        since: None,
        updated_at: Utc::now(),
    };
    Ok(store.save_program(&state, "sink").await?)
}

/// One SMS of [`PROGRAM`] to each shopper, due `now`: what a scheduler pass writes.
pub fn plan(ids: &[i64], now: DateTime<Utc>) -> Plan {
    let run = now.timestamp_micros().to_string();
    Plan {
        messages: ids
            .iter()
            .map(|id| NewMessage {
                ledger_key: ledger_key(*id, "sink", "touch", &run),
                customer_id: *id,
                channel: Channel::Sms,
                program: "sink".into(),
                step: "touch".into(),
                template: "care-signed".into(),
                priority: Priority::Care,
                order_id: None,
                due_at: now,
                expires_at: now + Duration::days(1),
            })
            .collect(),
        at: Some(now),
        ..Plan::default()
    }
}

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

    /// A worker whose SMS gateway is this sink, with no quiet hours and the built-in
    /// templates (`concurrency` sends in flight, `batch` messages claimed at once): what
    /// the outbox benchmark and the worker's tests drive.
    pub fn sms_worker(
        &self,
        store: Arc<dyn Store>,
        tz: ShopTz,
        concurrency: u16,
        batch: u32,
    ) -> Result<Worker, EngageError> {
        let delivery = Delivery {
            concurrency,
            sms: Some(GatewayDelivery {
                url: format!("{}/sms", self.url),
                auth_header: None,
                auth_env: None,
                body: GatewayDelivery::default_body(),
                reply_secret_env: None,
            }),
            ..Delivery::default()
        };
        let mut channels = Channels::default();
        let gateway = delivery.sms.as_ref().expect("set above");
        channels.insert(
            Channel::Sms,
            Arc::new(Gateway::new(gateway, crate::channel::http_client()?, "sms")?),
        );
        let policy = ContactPolicy {
            quiet_hours: QuietHours::parse("00:00-00:00").map_err(EngageError::Program)?,
            ..ContactPolicy::default()
        };
        Ok(Worker {
            store,
            channels,
            templates: Arc::new(Templates::builtin()),
            policy,
            delivery,
            links: LinkKey::new(b"sink".to_vec()),
            tz,
            name: crate::worker_name(),
            lease: Duration::seconds(60),
            batch,
        })
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
