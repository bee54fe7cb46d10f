//! `guanxi bench points`: `guanxi member verify` over a generated ledger — N members,
//! each with three earnings, a redemption and (one in ten) a refund — the time to write
//! it and the time to prove every balance. Figures are printed, never asserted.

use std::path::Path;
use std::time::Instant;

use chrono::{Duration, TimeZone as _, Utc};
use guanxi_domain::points::{Account, Event, Key, Kind, Movement};
use serde::Serialize;

use crate::cli::Global;
use crate::open::open;
use crate::output::report;

#[derive(Serialize)]
struct Figures {
    backend: guanxi_store::Backend,
    members: u64,
    events: u64,
    movements: u64,
    customers_s: f64,
    write_s: f64,
    verify_s: f64,
    verified_events_per_s: f64,
    differences: usize,
    points: i64,
    peak_rss_mib: Option<f64>,
}

/// One event posted for a member, with its movements (owned until the batch borrows it).
type Posted = (i64, Key, chrono::DateTime<Utc>, Event, Vec<Movement>);

/// Members posted per batch.
const BATCH: usize = 10_000;

pub async fn run(global: &Global, members: u64, dir: &Path) -> anyhow::Result<()> {
    let mut g = global.clone();
    if g.database_url.is_none() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        g.db = Some(dir.join("points.db"));
        g.lake = Some(dir.join("points.lake"));
    }
    let o = open(&g, &dir.join("points.db")).await?;
    let store = o.store.as_ref();
    eprintln!("creating {members} customers…");
    let t = Instant::now();
    let ids = guanxi_engage::sink::shoppers(store, "bench", members).await?;
    let customers_s = t.elapsed().as_secs_f64();
    eprintln!("writing their ledgers…");
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let (mut events, mut movements) = (0u64, 0u64);
    let t = Instant::now();
    for chunk in ids.chunks(BATCH) {
        // Owned first, then borrowed by the batch.
        let mut posted: Vec<Posted> = Vec::new();
        for &customer in chunk {
            let mut account = Account::default();
            let mut post = |key: Key, at: chrono::DateTime<Utc>, event: Event| {
                if let Ok(moved) = account.post(&key, at, &event) {
                    posted.push((customer, key, at, event, moved));
                }
            };
            let base = 50 + (customer % 400) as u64;
            for (n, day) in [0i64, 90, 180].into_iter().enumerate() {
                let at = start + Duration::days(day + customer % 30);
                post(
                    Key::new(Kind::Earn, "bench", &format!("{customer}-{n}")),
                    at,
                    Event::Earn {
                        points: base + 10 * n as u64,
                        expires_at: at + Duration::days(365),
                    },
                );
            }
            let at = start + Duration::days(200);
            post(
                Key::new(Kind::Redeem, "bench", &format!("{customer}-r")),
                at,
                Event::Redeem { points: base },
            );
            if customer % 10 == 0 {
                post(
                    Key::new(Kind::Refund, "bench", &format!("{customer}-1:all")),
                    at + Duration::days(1),
                    Event::Refund {
                        earned: Key::new(Kind::Earn, "bench", &format!("{customer}-1")),
                        points: base + 10,
                    },
                );
            }
        }
        let batch: Vec<guanxi_store::NewPoints<'_>> = posted
            .iter()
            .map(|(customer, key, at, event, moved)| guanxi_store::NewPoints {
                customer_id: *customer,
                last: None,
                key,
                at: *at,
                event,
                movements: moved,
                actor: "bench",
            })
            .collect();
        events += store.append_points_batch(&batch).await?;
        movements += posted.iter().map(|p| p.4.len() as u64).sum::<u64>();
    }
    let write_s = t.elapsed().as_secs_f64();
    eprintln!("verifying every balance…");
    let t = Instant::now();
    let v = guanxi_app::points::verify(store).await?;
    let verify_s = t.elapsed().as_secs_f64();
    let figures = Figures {
        backend: store.backend(),
        members: v.members,
        events,
        movements,
        customers_s,
        write_s,
        verify_s,
        verified_events_per_s: v.events as f64 / verify_s.max(1e-9),
        differences: v.differences.len(),
        points: v.points,
        peak_rss_mib: super::bench::peak_rss_mib(),
    };
    report(global.json, &figures, |f| {
        format!(
            "{} members, {} events, {} movements ({:?}): written in {:.1} s; verified in {:.1} s ({:.0} events/s), {} differences; peak {:.0} MiB\n",
            f.members,
            f.events,
            f.movements,
            f.backend,
            f.write_s,
            f.verify_s,
            f.verified_events_per_s,
            f.differences,
            f.peak_rss_mib.unwrap_or(0.0)
        )
    })
}
