//! `guanxi demo`: generate the demo shop and load it (or write it as CSV files).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context as _;
use guanxi_demo::DemoConfig;
use guanxi_import::{Batch, CsvExport, Loader, Pipe, Summary};
use guanxi_store::ImportRecord;
use serde::Serialize;

use crate::cli::{DemoArgs, Global};
use crate::commands::Bar;
use crate::open::{Opened, open};
use crate::output::report;

/// Demo customers per store batch.
const BATCH: usize = 1000;

pub async fn run(global: &Global, args: DemoArgs) -> anyhow::Result<()> {
    let mut cfg = DemoConfig {
        customers: args.customers,
        seed: args.seed,
        ..Default::default()
    };
    if let Some(dir) = &args.export_csv {
        if let Some(tz) = &global.time_zone {
            cfg.tz = tz.parse().map_err(anyhow::Error::msg).context("--time-zone")?;
        }
        return export(global, &cfg, dir);
    }
    let opened = open(global, Path::new("guanxi-demo.db")).await?;
    cfg.tz = opened.tz;
    let summary = load(&opened, &cfg).await?;
    #[derive(Serialize)]
    struct Loaded<'a> {
        store: &'a str,
        seed: u64,
        #[serde(flatten)]
        summary: &'a Summary,
        profiles: Option<guanxi_app::profiles::BuildSummary>,
        served: bool,
        /// The admin made for the served demo when the store had no user yet.
        #[serde(skip_serializing_if = "Option::is_none")]
        sign_in: Option<SignIn>,
    }
    #[derive(Serialize)]
    struct SignIn {
        name: String,
        password: String,
    }
    // The web UI needs a user: a served demo without one gets an admin with a random
    // password, printed once (there is no default password).
    let sign_in = if !args.no_serve && opened.store.users().await?.is_empty() {
        let password = guanxi_app::access::new_password();
        guanxi_app::access::add_user(
            opened.store.as_ref(),
            "demo",
            guanxi_domain::access::Role::Admin,
            &password,
            &guanxi_app::access::Actor::cli(),
        )
        .await?;
        Some(SignIn {
            name: "demo".into(),
            password,
        })
    } else {
        None
    };
    // Build everything that exists so far: the customer profiles.
    let (settings, _) = super::config::load(global)?;
    let profiles = match summary.orders_total {
        0 => None,
        _ => Some(guanxi_app::profiles::build(opened.shop(), &settings, None).await?),
    };
    let loaded = Loaded {
        store: &opened.location,
        seed: cfg.seed,
        summary: &summary,
        profiles,
        served: !args.no_serve,
        sign_in,
    };
    report(global.json, &loaded, |l| {
        let s = l.summary;
        let mut out = format!(
            "demo shop (seed {}) in {}: {} customers, {} orders, {} order lines, {} service records and reviews ({} ms)\n",
            l.seed,
            l.store,
            s.customers_total,
            s.orders_total,
            s.order_lines_total,
            s.records_inserted + s.records_updated + s.records_unchanged,
            s.elapsed_ms
        );
        if let Some(d) = &l.profiles {
            out += &super::profile::text(d);
        }
        if !args.no_serve {
            out += &format!("the dashboard: http://{}/ (Ctrl-C stops the server)\n", args.addr);
        }
        if let Some(s) = &l.sign_in {
            out += &format!(
                "sign in as {} with the password {} (add staff with guanxi user add)\n",
                s.name, s.password
            );
        }
        out
    })?;
    if !args.no_serve {
        super::serve::serve(global, &opened, args.addr, Default::default()).await?;
    }
    Ok(())
}

/// Generates the demo shop described by `cfg` and loads it into the store and lake, as one
/// import (all or nothing).
pub async fn load(opened: &Opened, cfg: &DemoConfig) -> anyhow::Result<Summary> {
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let bar = Bar::count(cfg.customers, "demo customers");
    // Generation overlaps with writing: the writer task works while the next batch is made.
    let pipe = Pipe::start(Loader::begin(opened.store.as_ref(), &opened.lake, "demo").await?);
    let mut summary = Summary {
        source: guanxi_demo::SOURCE.into(),
        ..Default::default()
    };
    let mut generated = guanxi_demo::customers(cfg).peekable();
    while generated.peek().is_some() {
        let (mut customers, mut orders, mut service, mut reviews) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for c in generated.by_ref().take(BATCH) {
            customers.push(c.customer);
            orders.extend(c.orders);
            service.extend(c.service);
            reviews.extend(c.reviews);
        }
        let n = customers.len() as u64;
        summary.rows_read += n;
        // Customers first, so that orders find them complete rather than creating bare ones.
        let sent = async {
            pipe.send(Batch::Customers(customers)).await?;
            pipe.send(Batch::Orders(orders)).await?;
            pipe.send(Batch::ServiceRecords(service)).await?;
            pipe.send(Batch::Reviews(reviews)).await
        }
        .await;
        if sent.is_err() {
            break; // the writer stopped; finish() says why
        }
        bar.inc(n);
    }
    let loader = pipe.finish(&mut summary).await?;
    bar.finish();
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    let record = ImportRecord {
        kind: "demo".into(),
        format: "demo".into(),
        files: Vec::new(),
        started_at: now,
        finished_at: chrono::Utc::now(),
        summary: serde_json::to_string(&summary)?,
    };
    loader
        .commit(&record, opened.store.as_ref(), &opened.lake, &mut summary)
        .await?;
    Ok(summary)
}

#[derive(Serialize)]
struct Exported {
    dir: String,
    customers: u64,
    orders: u64,
    order_lines: u64,
    service_records: u64,
    reviews: u64,
}

fn export(global: &Global, cfg: &DemoConfig, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let create = |name: &str| -> anyhow::Result<BufWriter<File>> {
        let path = dir.join(name);
        Ok(BufWriter::new(
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        ))
    };
    let mut orders = CsvExport::orders(create("orders.csv")?)?;
    let mut customers = CsvExport::customers(create("customers.csv")?)?;
    let mut service = CsvExport::service(create("service.csv")?)?;
    let mut reviews = CsvExport::reviews(create("reviews.csv")?)?;
    let mut n = Exported {
        dir: dir.display().to_string(),
        customers: 0,
        orders: 0,
        order_lines: 0,
        service_records: 0,
        reviews: 0,
    };
    let bar = Bar::count(cfg.customers, "demo customers");
    for c in guanxi_demo::customers(cfg) {
        customers.customer(&c.customer)?;
        n.customers += 1;
        for o in &c.orders {
            orders.order(o)?;
            n.orders += 1;
            n.order_lines += o.lines.len() as u64;
        }
        for s in &c.service {
            service.service_record(s)?;
            n.service_records += 1;
        }
        for r in &c.reviews {
            reviews.review(r)?;
            n.reviews += 1;
        }
        bar.inc(1);
    }
    bar.finish();
    orders.finish()?;
    customers.finish()?;
    service.finish()?;
    reviews.finish()?;
    report(global.json, &n, |n| {
        format!(
            "wrote {} customers, {} orders ({} lines), {} service records and {} reviews to {}/\n\
             import with: guanxi import customers --source demo {}/customers.csv, then orders, service and reviews\n",
            n.customers, n.orders, n.order_lines, n.service_records, n.reviews, n.dir, n.dir
        )
    })
}
