//! `guanxi bench outbox`: messages per second from the outbox to a local HTTP sink, the
//! whole worker path — claim, read recipients, judge under the contact policy, render,
//! POST to the gateway, settle. Figures are printed, never asserted.

use std::path::Path;
use std::time::Instant;

use chrono::Utc;
use guanxi_engage::Worked;
use guanxi_engage::sink::Sink;
use serde::Serialize;

use crate::cli::Global;
use crate::open::open;
use crate::output::report;

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
    eprintln!("creating {messages} customers…");
    let ids = guanxi_engage::sink::shoppers(o.store.as_ref(), "bench", messages).await?;
    // The program, enabled (workers read it from the store), and its queue: one plan, one
    // transaction (what a scheduler pass writes).
    guanxi_engage::sink::save_program(o.store.as_ref(), true).await?;
    let plan = guanxi_engage::sink::plan(&ids, Utc::now());
    let t = Instant::now();
    o.store.apply(&plan).await?;
    let queue_s = t.elapsed().as_secs_f64();

    let sink = Sink::start().await?;
    let worker = sink.sms_worker(o.store.clone(), o.tz, concurrency, batch)?;
    eprintln!("sending {messages} messages with {workers} workers…");
    let t = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..workers.max(1) {
        let mut w = worker.clone();
        w.name = format!("{}-{n}", w.name);
        tasks.push(tokio::spawn(async move {
            let mut total = Worked::default();
            loop {
                let done = w.batch(Utc::now()).await?;
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
