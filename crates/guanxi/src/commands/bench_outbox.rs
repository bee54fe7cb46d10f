//! `guanxi bench outbox`: messages per second from the outbox to a local HTTP sink, the
//! whole worker path — claim, read recipients, judge under the contact policy, render,
//! POST to the gateway, settle. Figures are printed, never asserted.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use guanxi_domain::program::{ContactPolicy, Delivery, GatewayDelivery, Priority, Program, QuietHours, ledger_key};
use guanxi_domain::{Channel, Consent, ConsentState, Contact, Customer, CustomerKey, Source};
use guanxi_engage::channel::Gateway;
use guanxi_engage::sink::Sink;
use guanxi_engage::{Channels, LinkKey, Loaded, Templates, Worked, Worker};
use guanxi_store::{NewMessage, Plan, ProgramState};
use serde::Serialize;

use crate::cli::Global;
use crate::open::open;
use crate::output::report;

const PROGRAM: &str = "name = \"bench\"\ntitle = \"Bench\"\npriority = \"care\"\ntrigger = { order = \"paid\" }\n\n\
    [[steps]]\nname = \"touch\"\nafter = \"0m\"\naction = { send = \"sms\", template = \"care-signed\" }\n";

#[derive(Serialize)]
struct Figures {
    backend: guanxi_store::Backend,
    messages: u64,
    workers: u16,
    batch: u32,
    concurrency: u16,
    queue_s: f64,
    queued_per_s: f64,
    send_s: f64,
    sent: u64,
    sent_per_s: f64,
    /// Deliveries counted at the sink (each idempotency key once).
    delivered: u64,
    requests: u64,
}

pub async fn run(
    global: &Global,
    messages: u64,
    dir: &Path,
    batch: u32,
    concurrency: u16,
    workers: u16,
) -> anyhow::Result<()> {
    let mut g = global.clone();
    if g.database_url.is_none() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        g.db = Some(dir.join("outbox.db"));
        g.lake = Some(dir.join("outbox.lake"));
    }
    let o = open(&g, &dir.join("outbox.db")).await?;
    let source = Source::parse("bench").map_err(anyhow::Error::msg)?;
    eprintln!("creating {messages} customers…");
    let consent_at = Utc::now();
    let customers: Vec<Customer> = (0..messages)
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
                evidence: "bench".into(),
            }];
            c
        })
        .collect();
    let mut tx = o.store.begin().await?;
    for chunk in customers.chunks(5000) {
        tx.upsert_customers(chunk).await?;
    }
    tx.commit().await?;
    let mut ids = Vec::with_capacity(customers.len());
    for c in &customers {
        ids.push(
            o.store
                .customer_id(&c.key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("customer not stored"))?,
        );
    }

    // Queue: one plan, one transaction (what a scheduler pass writes).
    let now = Utc::now();
    let run = now.timestamp_micros().to_string();
    let plan = Plan {
        messages: ids
            .iter()
            .map(|id| NewMessage {
                ledger_key: ledger_key(*id, "bench", "touch", &run),
                customer_id: *id,
                channel: Channel::Sms,
                program: "bench".into(),
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
    };
    let t = Instant::now();
    o.store.apply(&plan).await?;
    let queue_s = t.elapsed().as_secs_f64();

    let sink = Sink::start().await?;
    let delivery = Delivery {
        concurrency,
        sms: Some(GatewayDelivery {
            url: format!("{}/sms", sink.url),
            auth_header: None,
            auth_env: None,
            body: GatewayDelivery::default_body(),
            reply_secret_env: None,
        }),
        ..Delivery::default()
    };
    let mut channels = Channels::default();
    channels.insert(
        Channel::Sms,
        Arc::new(Gateway::new(
            delivery.sms.as_ref().expect("set above"),
            guanxi_engage::channel::http_client()?,
            "sms",
        )?),
    );
    let policy = ContactPolicy {
        quiet_hours: QuietHours::parse("00:00-00:00").map_err(anyhow::Error::msg)?,
        ..ContactPolicy::default()
    };
    let programs = vec![Loaded {
        state: ProgramState {
            name: "bench".into(),
            definition: PROGRAM.into(),
            enabled: true,
            since: None,
            updated_at: now,
        },
        program: Program::parse(PROGRAM, "bench")?,
    }];
    let worker = Worker {
        store: o.store.clone(),
        channels,
        templates: Arc::new(Templates::builtin()),
        policy,
        delivery,
        links: LinkKey::new(b"bench".to_vec()),
        tz: o.tz,
        name: guanxi_engage::worker_name(),
        lease: Duration::seconds(60),
        batch,
    };
    eprintln!("sending {messages} messages with {workers} workers…");
    let t = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..workers.max(1) {
        let mut w = worker.clone();
        w.name = format!("{}-{n}", w.name);
        let programs = programs.clone();
        tasks.push(tokio::spawn(async move {
            let mut total = Worked::default();
            loop {
                let done = w.batch(&programs, Utc::now()).await?;
                total.add(done);
                if done.claimed == 0 {
                    return Ok::<_, guanxi_engage::EngageError>(total);
                }
            }
        }));
    }
    let mut worked = Worked::default();
    for t in tasks {
        worked.add(t.await??);
    }
    let send_s = t.elapsed().as_secs_f64();
    let (requests, _, delivered) = sink.counts();
    let figures = Figures {
        backend: o.store.backend(),
        messages,
        workers,
        batch,
        concurrency,
        queue_s,
        queued_per_s: messages as f64 / queue_s,
        send_s,
        sent: worked.sent,
        sent_per_s: worked.sent as f64 / send_s,
        delivered,
        requests,
    };
    report(global.json, &figures, |f| {
        format!(
            "{:?}: queued {} messages in {:.2} s ({:.0}/s); sent {} in {:.2} s: {:.0} messages/s \
             ({} workers, batch {}, {} in flight each); the sink counted {} deliveries in {} requests\n",
            f.backend,
            f.messages,
            f.queue_s,
            f.queued_per_s,
            f.sent,
            f.send_s,
            f.sent_per_s,
            f.workers,
            f.batch,
            f.concurrency,
            f.delivered,
            f.requests
        )
    })
}
