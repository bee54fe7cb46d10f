//! Running an import: files → rows → records → batches in one store transaction and one
//! staged lake append, published together or not at all.

use std::path::PathBuf;
use std::time::Instant;

use guanxi_domain::Order;
use guanxi_lake::Lake;
use guanxi_store::{ImportRecord, Store};

use crate::formats::{self, Context, First, OrderFormat, RecordFormat};
use crate::load::Loader;
use crate::orders::{Assembler, Done};
use crate::problem::Problem;
use crate::rejects::Rejects;
use crate::table::{Layout, Table};
use crate::{Format, ImportError, Kind, MAX_LISTED, Options, Progress, Summary};

/// Orders per store batch, and the most lines a batch holds before it is written.
const BATCH_ORDERS: usize = 2000;
const BATCH_LINES: usize = 20_000;
/// Records (customers, service records, reviews) per store batch.
const BATCH_RECORDS: usize = 2000;
/// Rows between progress updates.
const PROGRESS_EVERY: u64 = 8192;

/// Imports `files` into the store (and the order lines into the lake). See the crate docs.
pub async fn import(
    store: &dyn Store,
    lake: &Lake,
    files: &[PathBuf],
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Summary, ImportError> {
    if opts.kind != Kind::Orders && opts.format != Format::Generic {
        return Err(ImportError::Usage(format!(
            "{} files have one format, guanxi's CSV (--format generic); {} is for orders",
            kind_name(opts.kind),
            opts.format.name()
        )));
    }
    if files.is_empty() {
        return Err(ImportError::Usage("no file to import".into()));
    }
    let started = Instant::now();
    let rejects = opts.rejects.as_deref().map(Rejects::create).transpose()?;
    let mut session = Session {
        loader: Loader::begin(store, lake, "import").await?,
        rejects,
        problems: Vec::new(),
        total_problems: 0,
        writing: true,
        summary: Summary {
            kind: Some(opts.kind),
            format: Some(opts.format),
            source: opts.source().to_string(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
            ..Default::default()
        },
        pending: Vec::new(),
        pending_lines: 0,
        fatal: false,
    };
    let cx = Context {
        source: opts.source(),
        tz: opts.tz,
    };
    let result = match opts.kind {
        Kind::Orders => session.orders(files, opts, &cx, progress).await,
        Kind::Customers => {
            session
                .records(files, opts, &cx, progress, formats::customers::Customers::default())
                .await
        }
        Kind::Service => {
            session
                .records(files, opts, &cx, progress, formats::service::Service::default())
                .await
        }
        Kind::Reviews => {
            session
                .records(files, opts, &cx, progress, formats::reviews::Reviews::default())
                .await
        }
    };
    progress.done();
    session.conclude(result, store, lake, opts, started).await
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Orders => "orders",
        Kind::Customers => "customers",
        Kind::Service => "service",
        Kind::Reviews => "reviews",
    }
}

struct Session {
    loader: Loader,
    rejects: Option<Rejects>,
    problems: Vec<Problem>,
    total_problems: u64,
    /// False once a problem means the import will not be committed: parsing goes on to
    /// report every problem, but nothing more is sent to the store.
    writing: bool,
    /// A problem that no rejects file can absorb (a bad header, an unreadable file).
    fatal: bool,
    summary: Summary,
    pending: Vec<Order>,
    pending_lines: usize,
}

impl Session {
    fn report(&mut self, p: Problem) {
        self.total_problems += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
        if self.rejects.is_none() {
            self.writing = false;
        }
    }

    fn fatal(&mut self, p: Problem) {
        self.fatal = true;
        self.writing = false;
        self.report(p);
    }

    fn reject(&mut self, rows: Vec<(Problem, csv::ByteRecord)>) -> Result<(), ImportError> {
        self.summary.rejected += rows.len() as u64;
        if let Some(r) = self.rejects.as_mut() {
            for (p, raw) in &rows {
                r.write(p, raw)?;
            }
        }
        Ok(())
    }

    fn open(&mut self, path: &std::path::Path, opts: &Options, layout: Layout) -> Option<Table> {
        match Table::open(path, opts.encoding, layout) {
            Ok(t) => Some(t),
            Err(p) => {
                self.fatal(p);
                None
            }
        }
    }

    async fn orders(
        &mut self,
        files: &[PathBuf],
        opts: &Options,
        cx: &Context,
        progress: &mut dyn Progress,
    ) -> Result<(), ImportError> {
        let mut assembler = Assembler::new(cx.source.clone(), self.rejects.is_some());
        for path in files {
            let (mut format, layout): (Box<dyn OrderFormat>, Layout) = match opts.format {
                Format::Generic => (Box::<formats::generic::Generic>::default(), Layout::Csv),
                Format::Shopify => (Box::<formats::shopify::Shopify>::default(), Layout::Csv),
                Format::Taobao => (Box::<formats::taobao::Taobao>::default(), Layout::Csv),
                Format::Cdnow => (Box::<formats::cdnow::Cdnow>::default(), Layout::Whitespace),
            };
            let Some(mut table) = self.open(path, opts, layout) else {
                continue;
            };
            progress.file(&table.path, table.total_bytes);
            let mut first = true;
            while let Some(row) = table.next() {
                let row = match row {
                    Ok(row) => row,
                    Err(p) => {
                        self.fatal(p);
                        break;
                    }
                };
                if first {
                    first = false;
                    match format.first(&row) {
                        Ok(First::Header) => continue,
                        Ok(First::Data) => {}
                        Err(p) => {
                            self.fatal(p);
                            break;
                        }
                    }
                }
                self.summary.rows_read += 1;
                let parsed = format.row(&row, cx).map_err(|p| (format.order_id(&row), p));
                let mut problems = Vec::new();
                let done = assembler.feed(&row, parsed, format.as_ref(), &mut |p| problems.push(p));
                for p in problems {
                    self.report(p);
                }
                if self.summary.rows_read.is_multiple_of(PROGRESS_EVERY) {
                    progress.advance(table.bytes_read());
                }
                for d in done.into_iter().flatten() {
                    self.take(d)?;
                }
                if self.pending.len() >= BATCH_ORDERS || self.pending_lines >= BATCH_LINES {
                    self.flush().await?;
                }
            }
            if first && !self.fatal {
                let p = Problem {
                    file: table.path.clone(),
                    line: 1,
                    column: 0,
                    field: None,
                    message: "the file is empty; expected a header line and rows".into(),
                };
                self.fatal(p);
            }
            let mut problems = Vec::new();
            let done = assembler.finish(format.as_ref(), &mut |p| problems.push(p));
            for p in problems {
                self.report(p);
            }
            if let Some(d) = done {
                self.take(d)?;
            }
            progress.advance(table.total_bytes);
        }
        self.flush().await
    }

    fn take(&mut self, done: Done) -> Result<(), ImportError> {
        match done {
            Done::Order(o) => {
                if self.writing {
                    self.pending_lines += o.lines.len();
                    self.pending.push(o);
                }
                Ok(())
            }
            Done::Rejected(rows) => self.reject(rows),
        }
    }

    async fn flush(&mut self) -> Result<(), ImportError> {
        if !self.writing || self.pending.is_empty() {
            self.pending.clear();
            self.pending_lines = 0;
            return Ok(());
        }
        self.loader.orders(&self.pending, &mut self.summary).await?;
        self.pending.clear();
        self.pending_lines = 0;
        Ok(())
    }

    async fn records<F: RecordFormat>(
        &mut self,
        files: &[PathBuf],
        opts: &Options,
        cx: &Context,
        progress: &mut dyn Progress,
        mut format: F,
    ) -> Result<(), ImportError>
    where
        F::Record: RecordKind,
    {
        let mut seen = std::collections::HashMap::<String, u64>::new();
        let mut batch: Vec<F::Record> = Vec::new();
        for path in files {
            let Some(mut table) = self.open(path, opts, Layout::Csv) else {
                continue;
            };
            progress.file(&table.path, table.total_bytes);
            let mut first = true;
            while let Some(row) = table.next() {
                let row = match row {
                    Ok(row) => row,
                    Err(p) => {
                        self.fatal(p);
                        break;
                    }
                };
                if first {
                    first = false;
                    if let Err(p) = format.header(&row) {
                        self.fatal(p);
                        break;
                    }
                    continue;
                }
                self.summary.rows_read += 1;
                let parsed = format.row(&row, cx).and_then(|r| {
                    let id = F::id(&r).to_string();
                    match seen.get(&id) {
                        Some(line) => Err(row.at.line(format!("id {id:?} was already given at line {line}"))),
                        None => {
                            seen.insert(id, row.at.line);
                            Ok(r)
                        }
                    }
                });
                match parsed {
                    Ok(r) => {
                        if self.writing {
                            batch.push(r);
                        }
                    }
                    Err(p) => {
                        let raw = row.raw().clone();
                        self.report(p.clone());
                        self.reject(vec![(p, raw)])?;
                    }
                }
                if self.summary.rows_read.is_multiple_of(PROGRESS_EVERY) {
                    progress.advance(table.bytes_read());
                }
                if batch.len() >= BATCH_RECORDS {
                    self.write_records(&mut batch).await?;
                }
            }
            if first && !self.fatal {
                let p = Problem {
                    file: table.path.clone(),
                    line: 1,
                    column: 0,
                    field: None,
                    message: "the file is empty; expected a header line and rows".into(),
                };
                self.fatal(p);
            }
            progress.advance(table.total_bytes);
        }
        self.write_records(&mut batch).await
    }

    async fn write_records<R: RecordKind>(&mut self, batch: &mut Vec<R>) -> Result<(), ImportError> {
        if self.writing && !batch.is_empty() {
            R::write(&mut self.loader, batch, &mut self.summary).await?;
        }
        batch.clear();
        Ok(())
    }

    async fn conclude(
        mut self,
        result: Result<(), ImportError>,
        store: &dyn Store,
        lake: &Lake,
        opts: &Options,
        started: Instant,
    ) -> Result<Summary, ImportError> {
        let failed = result.is_err() || self.fatal || (self.total_problems > 0 && self.rejects.is_none());
        if failed {
            // Roll back, delete what was staged; the error says why.
            self.loader.abort().await;
            if let Some(path) = &opts.rejects {
                let _ = std::fs::remove_file(path);
            }
            result?;
            return Err(ImportError::Invalid {
                problems: self.problems,
                total: self.total_problems,
            });
        }
        if let Some(r) = self.rejects.take() {
            self.summary.rejects_file = Some(r.finish()?);
        }
        self.summary.elapsed_ms = started.elapsed().as_millis() as u64;
        let record = ImportRecord {
            kind: kind_name(opts.kind).to_string(),
            format: opts.format.name().to_string(),
            files: self.summary.files.clone(),
            started_at: opts.now,
            finished_at: opts.now + chrono::Duration::milliseconds(self.summary.elapsed_ms as i64),
            summary: serde_json::to_string(&self.summary).unwrap_or_default(),
        };
        self.loader.commit(&record, store, lake, &mut self.summary).await?;
        Ok(self.summary)
    }
}

/// How each record kind is written.
#[allow(async_fn_in_trait)]
trait RecordKind: Sized {
    async fn write(loader: &mut Loader, batch: &[Self], summary: &mut Summary) -> Result<(), ImportError>;
}

impl RecordKind for guanxi_domain::Customer {
    async fn write(l: &mut Loader, batch: &[Self], s: &mut Summary) -> Result<(), ImportError> {
        l.customers(batch, s).await
    }
}

impl RecordKind for guanxi_domain::ServiceRecord {
    async fn write(l: &mut Loader, batch: &[Self], s: &mut Summary) -> Result<(), ImportError> {
        l.service_records(batch, s).await
    }
}

impl RecordKind for guanxi_domain::Review {
    async fn write(l: &mut Loader, batch: &[Self], s: &mut Summary) -> Result<(), ImportError> {
        l.reviews(batch, s).await
    }
}
