//! The lake: a columnar copy of order history for analytics, as Parquet files of order
//! lines under `<lake>/order_lines/year=YYYY/part-*.parquet`.
//!
//! Design:
//! - **The store is the system of record; the lake is derived.** Every import appends the
//!   orders it inserted or updated; `guanxi lake rebuild` regenerates the whole lake from
//!   the store. Analytics (one scan on one machine, or DataFusion and later Ballista) read only these files,
//!   never the transactional tables row by row.
//! - **Versions, not updates.** An updated order is appended again with a higher
//!   `revision`; readers keep, per `order_id`, the rows of its highest revision.
//!   [`Lake::compact`] drops superseded rows and merges small files.
//! - **Nothing half-published.** An [`Appender`] writes into a staging directory; the
//!   import publishes the staged files (renames, same file system) only after the store
//!   committed, and discards them otherwise. Should the process die between the two, the
//!   lake lags the store until the next `lake rebuild`; it never holds orders the store
//!   does not.
//! - **Constant memory.** Rows are buffered per year partition and written in row groups
//!   of [`ROWS_PER_BATCH`].
//! - Order-level fields (status, times, shipping, region, coupon) repeat on each line; take
//!   them once per order with `line_no = 1`.

mod columns;
mod details;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{BooleanArray, RecordBatch};
use chrono::Datelike;
use guanxi_domain::Order;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use columns::Columns;
pub use columns::schema;
pub use details::{DetailsWriter, StagedDetails};

/// Rows per record batch and Parquet row group.
pub const ROWS_PER_BATCH: usize = 64 * 1024;

/// A partition with more files than this is compacted after an import publishes.
pub const COMPACT_AFTER_FILES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("lake file {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("lake batch: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

impl LakeError {
    pub fn code(&self) -> &'static str {
        match self {
            LakeError::Io { .. } => "lake_io",
            LakeError::Parquet { .. } => "lake_parquet",
            LakeError::Arrow(_) => "lake_arrow",
        }
    }
}

pub type Result<T, E = LakeError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LakeError + '_ {
    move |source| LakeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn pq(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> LakeError + '_ {
    move |source| LakeError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

/// An order as the lake receives it: the record with the store's ids and revision.
#[derive(Debug, Clone, Copy)]
pub struct LakeOrder<'a> {
    pub id: i64,
    /// `None` for a guest order (null in the files: no profile reads it).
    pub customer_id: Option<i64>,
    pub revision: i64,
    pub order: &'a Order,
}

/// Figures about the lake's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LakeStats {
    pub partitions: usize,
    pub files: usize,
    /// All rows in the files, superseded versions included.
    pub rows: u64,
    /// Rows of the newest revision of each order: the order lines analytics sees.
    pub live_rows: u64,
    pub orders: u64,
}

/// The lake's files as [`Lake::version`] saw them: (path, size, modified in nanoseconds
/// since the epoch).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LakeVersion(pub Vec<(String, u64, u128)>);

/// The lake under one directory.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Lake {
        Lake { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory analytics reads: `order_lines/`, hive-partitioned by `year`.
    pub fn order_lines_dir(&self) -> PathBuf {
        self.root.join("order_lines")
    }

    /// Starts staging new rows. Nothing is visible to readers until [`Staged::publish`].
    pub fn appender(&self, label: &str) -> Result<Appender> {
        let staging = self.root.join("_staging").join(label);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        fs::create_dir_all(&staging).map_err(io(&staging))?;
        Ok(Appender {
            staging,
            label: label.to_string(),
            partitions: BTreeMap::new(),
        })
    }

    /// The Parquet files of the lake, in path order.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let dir = self.order_lines_dir();
        let mut files = Vec::new();
        if !dir.exists() {
            return Ok(files);
        }
        for part in fs::read_dir(&dir).map_err(io(&dir))? {
            let part = part.map_err(io(&dir))?.path();
            if !part.is_dir() {
                continue;
            }
            for f in fs::read_dir(&part).map_err(io(&part))? {
                let f = f.map_err(io(&part))?.path();
                if f.extension().is_some_and(|e| e == "parquet") {
                    files.push(f);
                }
            }
        }
        files.sort();
        Ok(files)
    }

    /// What the lake holds now, as far as a reader can tell without reading a row: each
    /// file with its size and modification time. Every import that changes an order, and
    /// every compaction, writes new files, so an equal version means equal contents.
    /// Paths are relative to the lake's root.
    pub fn version(&self) -> Result<LakeVersion> {
        let mut files = Vec::new();
        for f in self.files()? {
            let meta = fs::metadata(&f).map_err(io(&f))?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            // Relative to the lake: a lake moved, or named through a link, is the same lake.
            let name = f.strip_prefix(self.root()).unwrap_or(&f);
            files.push((name.to_string_lossy().into_owned(), meta.len(), modified));
        }
        Ok(LakeVersion(files))
    }

    /// A snapshot kept beside the lake (what was computed from a version of it), if any.
    pub fn snapshot(&self, name: &str) -> Result<Option<String>> {
        let path = self.root().join(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Replaces snapshot `name`: written beside it, then renamed over it, so that a
    /// reader sees the old text or the new, never part of one.
    pub fn put_snapshot(&self, name: &str, text: &str) -> Result<()> {
        fs::create_dir_all(self.root()).map_err(io(self.root()))?;
        let path = self.root().join(name);
        let staging = self.root().join(format!(".staging-{}-{name}", unique_stamp()));
        fs::write(&staging, text).map_err(io(&staging))?;
        fs::rename(&staging, &path).map_err(io(&staging))
    }

    /// The newest revision of every order in the lake (reads two columns only).
    fn newest_revisions(&self) -> Result<HashMap<i64, i64>> {
        let mut newest: HashMap<i64, i64> = HashMap::new();
        for f in self.files()? {
            for batch in read(&f, Some(&["order_id", "revision"]))? {
                let batch = batch?;
                let ids = batch.column(0).as_primitive::<Int64Type>();
                let revs = batch.column(1).as_primitive::<Int64Type>();
                for (id, rev) in ids.values().iter().zip(revs.values().iter()) {
                    let e = newest.entry(*id).or_insert(*rev);
                    *e = (*e).max(*rev);
                }
            }
        }
        Ok(newest)
    }

    pub fn stats(&self) -> Result<LakeStats> {
        let newest = self.newest_revisions()?;
        let files = self.files()?;
        let mut stats = LakeStats {
            files: files.len(),
            orders: newest.len() as u64,
            ..Default::default()
        };
        let mut partitions: Vec<&Path> = files.iter().filter_map(|f| f.parent()).collect();
        partitions.dedup();
        stats.partitions = partitions.len();
        for f in &files {
            for batch in read(f, Some(&["order_id", "revision"]))? {
                let batch = batch?;
                stats.rows += batch.num_rows() as u64;
                stats.live_rows += live_mask(&batch, &newest, 0, 1).true_count() as u64;
            }
        }
        Ok(stats)
    }

    /// Rewrites every partition that has superseded rows or more than one file into one
    /// file of live rows. Returns the number of partitions rewritten.
    pub fn compact(&self) -> Result<usize> {
        self.compact_where(|_| true)
    }

    /// Compacts only partitions with more than [`COMPACT_AFTER_FILES`] files.
    pub fn compact_if_fragmented(&self) -> Result<usize> {
        self.compact_where(|files| files.len() > COMPACT_AFTER_FILES)
    }

    fn compact_where(&self, wanted: impl Fn(&[PathBuf]) -> bool) -> Result<usize> {
        let mut by_partition: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
        for f in self.files()? {
            if let Some(p) = f.parent() {
                by_partition.entry(p.to_path_buf()).or_default().push(f);
            }
        }
        if !by_partition.values().any(|files| wanted(files)) {
            return Ok(0);
        }
        let newest = self.newest_revisions()?;
        let (id_col, rev_col) = columns::id_and_revision_indices();
        let mut rewritten = 0;
        for (partition, files) in by_partition {
            if !wanted(&files) {
                continue;
            }
            let mut stale = false;
            for f in &files {
                for batch in read(f, Some(&["order_id", "revision"]))? {
                    let batch = batch?;
                    stale |= live_mask(&batch, &newest, 0, 1).true_count() < batch.num_rows();
                }
            }
            if files.len() <= 1 && !stale {
                continue;
            }
            let target = partition.join(format!("part-compact-{}.parquet", unique_stamp()));
            let tmp = target.with_extension("parquet.tmp");
            let mut writer = new_writer(&tmp)?;
            for f in &files {
                for batch in read(f, None)? {
                    let batch = batch?;
                    let mask = live_mask(&batch, &newest, id_col, rev_col);
                    let live = arrow_select::filter::filter_record_batch(&batch, &mask)?;
                    if live.num_rows() > 0 {
                        writer.write(&live).map_err(pq(&tmp))?;
                    }
                }
            }
            writer.close().map_err(pq(&tmp))?;
            fs::rename(&tmp, &target).map_err(io(&target))?;
            for f in &files {
                fs::remove_file(f).map_err(io(f))?;
            }
            rewritten += 1;
        }
        Ok(rewritten)
    }

    /// Replaces the whole lake with the staged rows (from an appender filled with every
    /// order of the store). The old lake stays in place until the new one is complete.
    pub fn replace_all(&self, staged: Staged) -> Result<()> {
        let fresh = self.root.join("_staging").join("rebuild-publish");
        if fresh.exists() {
            fs::remove_dir_all(&fresh).map_err(io(&fresh))?;
        }
        fs::create_dir_all(&fresh).map_err(io(&fresh))?;
        staged.publish_into(&fresh)?;
        let live = self.order_lines_dir();
        let old = self.root.join("_staging").join(format!("old-{}", unique_stamp()));
        if live.exists() {
            fs::rename(&live, &old).map_err(io(&live))?;
        }
        fs::rename(&fresh, &live).map_err(io(&live))?;
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        Ok(())
    }
}

/// Reads a Parquet file of the lake, optionally only some columns.
pub fn read(path: &Path, only: Option<&[&str]>) -> Result<impl Iterator<Item = Result<RecordBatch>>> {
    let file = File::open(path).map_err(io(path))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(path))?;
    if let Some(names) = only {
        let schema = builder.parquet_schema();
        let indices: Vec<usize> = names
            .iter()
            .filter_map(|n| (0..schema.num_columns()).find(|i| schema.column(*i).name() == *n))
            .collect();
        let mask = ProjectionMask::leaves(schema, indices);
        builder = builder.with_projection(mask);
    }
    let reader = builder.with_batch_size(ROWS_PER_BATCH).build().map_err(pq(path))?;
    let path = path.to_path_buf();
    Ok(reader.map(move |b| {
        b.map_err(|e| LakeError::Parquet {
            path: path.clone(),
            source: e.into(),
        })
    }))
}

fn live_mask(batch: &RecordBatch, newest: &HashMap<i64, i64>, id_col: usize, rev_col: usize) -> BooleanArray {
    let ids = batch.column(id_col).as_primitive::<Int64Type>();
    let revs = batch.column(rev_col).as_primitive::<Int64Type>();
    ids.values()
        .iter()
        .zip(revs.values().iter())
        .map(|(id, rev)| Some(newest.get(id) == Some(rev)))
        .collect()
}

fn new_writer(path: &Path) -> Result<ArrowWriter<File>> {
    let file = File::create(path).map_err(io(path))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROWS_PER_BATCH))
        .build();
    ArrowWriter::try_new(file, Arc::new(schema()), Some(props)).map_err(pq(path))
}

/// A name no other writer of this lake uses: time and process id (a file name, not a
/// figure: the wall clock is fine here).
fn unique_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{:09}-{}", now.as_secs(), now.subsec_nanos(), std::process::id())
}

struct Partition {
    columns: Columns,
    writer: ArrowWriter<File>,
    path: PathBuf,
}

/// Stages order lines for the lake. See [`Lake::appender`].
pub struct Appender {
    staging: PathBuf,
    label: String,
    partitions: BTreeMap<i32, Partition>,
}

impl Appender {
    pub fn push(&mut self, order: LakeOrder<'_>) -> Result<()> {
        let year = order.order.created_at.year();
        if !self.partitions.contains_key(&year) {
            let dir = self.staging.join(format!("year={year}"));
            fs::create_dir_all(&dir).map_err(io(&dir))?;
            let path = dir.join(format!("part-{}-{}.parquet", self.label, unique_stamp()));
            let writer = new_writer(&path)?;
            self.partitions.insert(
                year,
                Partition {
                    columns: Columns::default(),
                    writer,
                    path,
                },
            );
        }
        let p = self.partitions.get_mut(&year).expect("inserted above");
        p.columns.push(order);
        if p.columns.len() >= ROWS_PER_BATCH {
            let batch = p.columns.take_batch()?;
            p.writer.write(&batch).map_err(pq(&p.path))?;
        }
        Ok(())
    }

    /// Flushes and closes the staged files.
    pub fn finish(self) -> Result<Staged> {
        for (_, mut p) in self.partitions {
            if p.columns.len() > 0 {
                let batch = p.columns.take_batch()?;
                p.writer.write(&batch).map_err(pq(&p.path))?;
            }
            p.writer.close().map_err(pq(&p.path))?;
        }
        Ok(Staged { staging: self.staging })
    }
}

/// Closed staged files, waiting for the store to commit.
#[must_use = "staged rows must be published or discarded"]
pub struct Staged {
    staging: PathBuf,
}

impl Staged {
    /// Moves the staged files into the lake.
    pub fn publish(self, lake: &Lake) -> Result<()> {
        self.publish_into(&lake.order_lines_dir())
    }

    fn publish_into(self, target: &Path) -> Result<()> {
        if self.staging.exists() {
            for part in fs::read_dir(&self.staging).map_err(io(&self.staging))? {
                let part = part.map_err(io(&self.staging))?.path();
                let Some(name) = part.file_name() else { continue };
                let dest_dir = target.join(name);
                fs::create_dir_all(&dest_dir).map_err(io(&dest_dir))?;
                for f in fs::read_dir(&part).map_err(io(&part))? {
                    let f = f.map_err(io(&part))?.path();
                    if let Some(file_name) = f.file_name() {
                        let dest = dest_dir.join(file_name);
                        fs::rename(&f, &dest).map_err(io(&dest))?;
                    }
                }
            }
        }
        self.discard()
    }

    /// Deletes the staged files.
    pub fn discard(self) -> Result<()> {
        if self.staging.exists() {
            fs::remove_dir_all(&self.staging).map_err(io(&self.staging))?;
        }
        Ok(())
    }
}
