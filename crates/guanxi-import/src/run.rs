//! Running an import: files → rows → records → batches in one store transaction and one
//! staged lake append, published together or not at all.
//!
//! [`Session::read`] walks the files and their rows once for every kind; a [`Handler`]
//! says what a kind does with a header, a row, and a full batch.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use guanxi_domain::Order;
use guanxi_lake::Lake;
use guanxi_store::{ImportRecord, Store};

use crate::formats::{self, Context, First, OrderFormat, RecordFormat};
use crate::load::{Batch, Loader, Pipe};
use crate::orders::{Assembler, Done};
use crate::problem::Problem;
use crate::rejects::Rejects;
use crate::table::{Layout, Row, Table};
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
    let shopify_customers = opts.kind == Kind::Customers && opts.format == Format::Shopify;
    if opts.mapping.is_some() && (opts.kind != Kind::Orders || opts.format != Format::Generic) {
        return Err(ImportError::Usage(
            "--map reads orders files of any layout through guanxi's generic fields: use it with `import orders --format generic`".into(),
        ));
    }
    if opts.kind != Kind::Orders && opts.format != Format::Generic && !shopify_customers {
        return Err(ImportError::Usage(format!(
            "{} files are read in guanxi's CSV (--format generic){}; {} is for orders",
            opts.kind.name(),
            if opts.kind == Kind::Customers {
                " or Shopify's customers export (--format shopify)"
            } else {
                ""
            },
            opts.format.name()
        )));
    }
    if files.is_empty() {
        return Err(ImportError::Usage("no file to import".into()));
    }
    let started = Instant::now();
    let rejects = opts.rejects.as_deref().map(Rejects::create).transpose()?;
    let mut session = Session {
        pipe: Pipe::start(Loader::begin(store, lake, "import").await?),
        rejects,
        problems: Vec::new(),
        total_problems: 0,
        writing: true,
        fatal: false,
        summary: Summary {
            kind: Some(opts.kind),
            format: Some(opts.format),
            source: opts.source().to_string(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
            ..Default::default()
        },
    };
    let cx = Context {
        source: opts.source(),
        tz: opts.tz,
    };
    let result = match opts.kind {
        Kind::Orders => {
            let mut h = Orders::new(
                opts.format,
                Assembler::new(cx.source.clone(), session.rejects.is_some()),
            );
            h.mapping = opts.mapping.clone().map(std::sync::Arc::new);
            if h.mapping.is_some() {
                // Logs interleave the rows of concurrent invoices.
                h.assembler.window = 16;
            }
            if opts.mapping.as_ref().is_some_and(|m| !m.has_amounts()) {
                session.warn(
                    "--map gives no amount or unit_price: every line's amount is 0 (purchases are counted, spend is unknown)"
                        .into(),
                );
            }
            // Taobao's item reports are read first, whatever their place among the files:
            // their lines join the orders of the order reports.
            let order_files = if opts.format == Format::Taobao {
                let (items, order_files) = session.item_reports(files, opts);
                h.items = std::sync::Arc::new(items);
                order_files
            } else {
                files.to_vec()
            };
            let read = session.read(&order_files, opts, &cx, progress, &mut h).await;
            h.joined(&mut session);
            read
        }
        Kind::Customers if shopify_customers => {
            let mut h = Records::new(formats::shopify_customers::ShopifyCustomers::default());
            session.read(files, opts, &cx, progress, &mut h).await
        }
        Kind::Customers => {
            let mut h = Records::new(formats::customers::Customers::default());
            session.read(files, opts, &cx, progress, &mut h).await
        }
        Kind::Service => {
            let mut h = Records::new(formats::service::Service::default());
            session.read(files, opts, &cx, progress, &mut h).await
        }
        Kind::Reviews => {
            let mut h = Records::new(formats::reviews::Reviews::default());
            session.read(files, opts, &cx, progress, &mut h).await
        }
        Kind::Products => {
            let mut h = Records::new(formats::catalogue::Catalogue::default());
            session.read(files, opts, &cx, progress, &mut h).await
        }
    };
    progress.done();
    session.conclude(result, store, lake, opts, started).await
}

/// What one kind of import does with what [`Session::read`] finds.
#[allow(async_fn_in_trait)]
trait Handler {
    /// A new file begins: how to split its lines.
    fn start_file(&mut self) -> Layout;
    /// The file's first row: a header, or (headerless formats) data.
    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem>;
    /// A data row: parse it, keep what is good, report what is not.
    fn row(&mut self, s: &mut Session, row: &Row<'_>, cx: &Context) -> Result<(), ImportError>;
    /// The file ended.
    fn end_file(&mut self, s: &mut Session) -> Result<(), ImportError>;
    /// Whether enough is pending to write a batch.
    fn full(&self) -> bool;
    /// Writes what is pending (or drops it, once the import will not commit).
    async fn flush(&mut self, s: &mut Session) -> Result<(), ImportError>;
}

struct Session {
    pipe: Pipe,
    rejects: Option<Rejects>,
    problems: Vec<Problem>,
    total_problems: u64,
    /// False once a problem means the import will not be committed: parsing goes on to
    /// report every problem, but nothing more is sent to the store.
    writing: bool,
    /// A problem that no rejects file can absorb (a bad header, an unreadable file).
    fatal: bool,
    summary: Summary,
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

    /// Something the shop should know that does not stop the import.
    fn warn(&mut self, w: String) {
        self.summary.warnings_total += 1;
        if self.summary.warnings.len() < MAX_LISTED {
            self.summary.warnings.push(w);
        }
    }

    /// Reads the Taobao item reports among `files` (recognised by their header); returns
    /// their lines by order id and the other files. A later report's lines of an order
    /// replace an earlier one's (cumulative snapshots).
    fn item_reports(&mut self, files: &[PathBuf], opts: &Options) -> (formats::taobao::Items, Vec<PathBuf>) {
        let mut items = formats::taobao::Items::default();
        let mut others = Vec::new();
        for path in files {
            let mut table = match Table::open(path, opts.encoding, opts.decimal, Layout::Csv) {
                Ok(t) => t,
                Err(p) => {
                    self.fatal(p);
                    continue;
                }
            };
            let report = match table.next() {
                Some(Ok(row)) => formats::taobao::ItemReport::header(&row),
                _ => Ok(None),
            };
            let report = match report {
                Ok(Some(r)) => r,
                Ok(None) => {
                    others.push(path.clone());
                    continue;
                }
                Err(p) => {
                    self.fatal(p);
                    continue;
                }
            };
            let mut here: HashMap<String, Vec<formats::taobao::Item>> = HashMap::new();
            while let Some(row) = table.next() {
                let row = match row {
                    Ok(row) => row,
                    Err(p) => {
                        self.fatal(p);
                        break;
                    }
                };
                self.summary.rows_read += 1;
                match report.row(&row) {
                    Ok((id, item)) => here.entry(id).or_default().push(item),
                    Err(p) => self.report(p),
                }
            }
            items.lines.extend(here);
        }
        (items, others)
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

    /// Reads every file once, handing rows to `h` and writing batches as they fill.
    async fn read<H: Handler>(
        &mut self,
        files: &[PathBuf],
        opts: &Options,
        cx: &Context,
        progress: &mut dyn Progress,
        h: &mut H,
    ) -> Result<(), ImportError> {
        for path in files {
            let layout = h.start_file();
            let mut table = match Table::open(path, opts.encoding, opts.decimal, layout) {
                Ok(t) => t,
                Err(p) => {
                    self.fatal(p);
                    continue;
                }
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
                if std::mem::take(&mut first) {
                    match h.first(&row) {
                        Ok(First::Header) => continue,
                        Ok(First::Data) => {}
                        Err(p) => {
                            self.fatal(p);
                            break;
                        }
                    }
                }
                self.summary.rows_read += 1;
                h.row(self, &row, cx)?;
                if self.summary.rows_read.is_multiple_of(PROGRESS_EVERY) {
                    progress.advance(table.bytes_read());
                }
                if h.full() {
                    h.flush(self).await?;
                }
            }
            if first && !self.fatal {
                let at = crate::problem::At::new(path, 1);
                self.fatal(at.line("the file is empty; expected a header line and rows"));
            }
            h.end_file(self)?;
            progress.advance(table.total_bytes);
        }
        h.flush(self).await
    }

    async fn conclude(
        mut self,
        result: Result<(), ImportError>,
        store: &dyn Store,
        lake: &Lake,
        opts: &Options,
        started: Instant,
    ) -> Result<Summary, ImportError> {
        // Wait for the writer first: a write error is the cause of any reader error.
        let written = self.pipe.finish(&mut self.summary).await;
        let failed = result.is_err() || self.fatal || (self.total_problems > 0 && self.rejects.is_none());
        let remove_rejects = || {
            if let Some(path) = &opts.rejects {
                let _ = std::fs::remove_file(path);
            }
        };
        let loader = match written {
            Err(e) => {
                remove_rejects();
                return Err(e);
            }
            Ok(loader) if failed => {
                // Roll back, delete what was staged; the error says why.
                loader.abort().await;
                remove_rejects();
                result?;
                return Err(ImportError::Invalid {
                    problems: self.problems,
                    total: self.total_problems,
                });
            }
            Ok(loader) => loader,
        };
        let mut loader = loader;
        if opts.kind == Kind::Products
            && let Err(e) = loader.complete_stored_orders(store, &mut self.summary).await
        {
            loader.abort().await;
            remove_rejects();
            return Err(e);
        }
        if let Some(r) = self.rejects.take() {
            self.summary.rejects_file = Some(r.finish()?);
        }
        self.summary.elapsed_ms = started.elapsed().as_millis() as u64;
        let record = ImportRecord {
            kind: opts.kind.name().to_string(),
            format: opts.format.name().to_string(),
            files: self.summary.files.clone(),
            started_at: opts.now,
            finished_at: opts.now + chrono::Duration::milliseconds(self.summary.elapsed_ms as i64),
            summary: serde_json::to_string(&self.summary).unwrap_or_default(),
        };
        loader.commit(&record, store, lake, &mut self.summary).await?;
        Ok(self.summary)
    }
}

/// Orders: rows assembled into orders by the format and the [`Assembler`].
struct Orders {
    which: Format,
    format: Box<dyn OrderFormat>,
    assembler: Assembler,
    pending: Vec<Order>,
    /// Where each pending order is in `pending`: a snapshot giving it again replaces it.
    pending_at: HashMap<guanxi_domain::OrderKey, usize>,
    pending_lines: usize,
    /// Taobao item reports' lines, by order id.
    items: std::sync::Arc<formats::taobao::Items>,
    /// A generic file's mapping to its columns.
    mapping: Option<std::sync::Arc<formats::generic::Mapping>>,
    /// Rows of this file skipped for having no time (mapped logs).
    undated: u64,
}

impl Orders {
    fn new(which: Format, assembler: Assembler) -> Orders {
        Orders {
            which,
            format: Box::<formats::generic::Generic>::default(),
            assembler,
            pending: Vec::new(),
            pending_at: HashMap::new(),
            pending_lines: 0,
            items: Default::default(),
            mapping: None,
            undated: 0,
        }
    }

    /// Reports the item reports' orders that no order report gave (the orders whose items
    /// do not add up are reported as each file ends).
    fn joined(&self, s: &mut Session) {
        let mut unknown: Vec<&String> = self.items.lines.keys().filter(|id| !self.assembler.seen(id)).collect();
        unknown.sort();
        for id in unknown {
            let at = self.items.lines[id].first().map_or("", |i| i.at.as_str());
            s.warn(format!(
                "{at}: the item report lists order {id:?}, which no order report gives: its items were not imported"
            ));
        }
    }

    /// Hands on what the assembler completed, reporting its problems.
    fn take(
        &mut self,
        s: &mut Session,
        done: impl IntoIterator<Item = Done>,
        problems: Vec<Problem>,
    ) -> Result<(), ImportError> {
        for p in problems {
            s.report(p);
        }
        for d in done {
            match d {
                Done::Order { order: o, again } if s.writing => {
                    // Orders read, each once however many files give it.
                    s.summary.guest_orders += u64::from(o.customer.is_none() && !again);
                    self.pending_lines += o.lines.len();
                    match self.pending_at.get(&o.key) {
                        // A later snapshot of an order still pending: the newer one stands.
                        Some(&i) => {
                            self.pending_lines -= self.pending[i].lines.len();
                            self.pending[i] = o;
                        }
                        None => {
                            self.pending_at.insert(o.key.clone(), self.pending.len());
                            self.pending.push(o);
                        }
                    }
                }
                Done::Order { .. } => {}
                Done::Rejected(rows) => s.reject(rows)?,
            }
        }
        Ok(())
    }
}

impl Handler for Orders {
    fn start_file(&mut self) -> Layout {
        // A fresh format per file: each file has its own header.
        let (format, layout): (Box<dyn OrderFormat>, Layout) = match self.which {
            Format::Generic => (
                Box::new(formats::generic::Generic::mapped(self.mapping.clone())),
                Layout::Csv,
            ),
            Format::Shopify => (Box::<formats::shopify::Shopify>::default(), Layout::Csv),
            Format::Taobao => (
                Box::new(formats::taobao::Taobao::with_items(self.items.clone())),
                Layout::Csv,
            ),
            Format::Cdnow => (Box::<formats::cdnow::Cdnow>::default(), Layout::Whitespace),
        };
        self.format = format;
        layout
    }

    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem> {
        self.format.first(row)
    }

    fn row(&mut self, s: &mut Session, row: &Row<'_>, cx: &Context) -> Result<(), ImportError> {
        if let Some(why) = self.format.undated(row) {
            // Counted and named, not imported: nothing says when the order was placed.
            self.undated += 1;
            if self.undated <= 3 {
                s.warn(format!("{}:{}: {why}: not imported", row.at.file, row.at.line));
            }
            return Ok(());
        }
        let parsed = self.format.row(row, cx).map_err(|p| (self.format.order_id(row), p));
        let mut problems = Vec::new();
        let done = self
            .assembler
            .feed(row, parsed, self.format.as_ref(), &mut |p| problems.push(p));
        self.take(s, done.into_iter().flatten(), problems)
    }

    fn end_file(&mut self, s: &mut Session) -> Result<(), ImportError> {
        if self.undated > 3 {
            s.warn(format!(
                "… {} rows of this file had no time and were not imported",
                self.undated
            ));
        }
        s.summary.undated_rows += self.undated;
        self.undated = 0;
        for w in self.format.take_warnings() {
            s.warn(w);
        }
        let mut problems = Vec::new();
        let done = self.assembler.finish(self.format.as_ref(), &mut |p| problems.push(p));
        self.take(s, done, problems)
    }

    fn full(&self) -> bool {
        self.pending.len() >= BATCH_ORDERS || self.pending_lines >= BATCH_LINES
    }

    async fn flush(&mut self, s: &mut Session) -> Result<(), ImportError> {
        if s.writing && !self.pending.is_empty() {
            s.pipe.send(Batch::Orders(std::mem::take(&mut self.pending))).await?;
        }
        self.pending.clear();
        self.pending_at.clear();
        self.pending_lines = 0;
        Ok(())
    }
}

/// Customers, service records, reviews: one record per row, ids unique in the import.
struct Records<F: RecordFormat> {
    format: F,
    /// Ids seen in this import → the line that gave them.
    seen: HashMap<String, u64>,
    batch: Vec<F::Record>,
}

impl<F: RecordFormat> Records<F> {
    fn new(format: F) -> Self {
        Records {
            format,
            seen: HashMap::new(),
            batch: Vec::new(),
        }
    }
}

impl<F: RecordFormat> Handler for Records<F>
where
    F::Record: RecordKind,
{
    fn start_file(&mut self) -> Layout {
        Layout::Csv
    }

    fn first(&mut self, row: &Row<'_>) -> Result<First, Problem> {
        self.format.header(row).map(|()| First::Header)
    }

    fn row(&mut self, s: &mut Session, row: &Row<'_>, cx: &Context) -> Result<(), ImportError> {
        let parsed = self.format.row(row, cx).and_then(|r| {
            let id = F::id(&r).into_owned();
            match self.seen.get(&id) {
                Some(line) => Err(row.at.line(format!("id {id:?} was already given at line {line}"))),
                None => {
                    self.seen.insert(id, row.at.line);
                    Ok(r)
                }
            }
        });
        match parsed {
            Ok(r) if s.writing => self.batch.push(r),
            Ok(_) => {}
            Err(p) => {
                s.report(p.clone());
                s.reject(vec![(p, row.raw().clone())])?;
            }
        }
        Ok(())
    }

    fn end_file(&mut self, _: &mut Session) -> Result<(), ImportError> {
        Ok(())
    }

    fn full(&self) -> bool {
        self.batch.len() >= BATCH_RECORDS
    }

    async fn flush(&mut self, s: &mut Session) -> Result<(), ImportError> {
        if s.writing && !self.batch.is_empty() {
            s.pipe.send(F::Record::batch(std::mem::take(&mut self.batch))).await?;
        }
        self.batch.clear();
        Ok(())
    }
}

/// How each record kind travels to the writer.
trait RecordKind: Sized {
    fn batch(records: Vec<Self>) -> Batch;
}

impl RecordKind for guanxi_domain::Customer {
    fn batch(records: Vec<Self>) -> Batch {
        Batch::Customers(records)
    }
}

impl RecordKind for guanxi_domain::ServiceRecord {
    fn batch(records: Vec<Self>) -> Batch {
        Batch::ServiceRecords(records)
    }
}

impl RecordKind for guanxi_domain::Review {
    fn batch(records: Vec<Self>) -> Batch {
        Batch::Reviews(records)
    }
}

impl RecordKind for formats::catalogue::Entry {
    fn batch(records: Vec<Self>) -> Batch {
        Batch::Catalogue(records)
    }
}
