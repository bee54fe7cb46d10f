//! Profile details: every profile of a build with its explanations, as JSON text, in one
//! Parquet file per build (`<lake>/profiles/build-<id>.parquet`), in customer id order.
//!
//! Why here and not in the store: a million profiles are about 1.8 GB of JSON; written
//! into SQLite in the build's transaction they took most of the build's time. Parquet
//! compresses them, and sorted by customer id with small row groups, one customer's
//! detail is found by reading a single row group chosen from the column statistics.
//! Like order lines, a build's file is staged and published only after the store has
//! committed the build.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;

use crate::{Lake, LakeError, Result, io, pq, unique_stamp};

/// Rows per row group: small, so that a lookup decompresses little.
const ROWS_PER_GROUP: usize = 4096;

/// Builds kept: the current one and the one before (a reader may still be on it).
const BUILDS_KEPT: usize = 2;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("detail", DataType::Utf8, false),
    ]))
}

impl Lake {
    pub fn profiles_dir(&self) -> PathBuf {
        self.root().join("profiles")
    }

    fn details_path(&self, build_id: i64) -> PathBuf {
        self.profiles_dir().join(format!("build-{build_id}.parquet"))
    }

    /// A writer for a build's details, staged until [`StagedDetails::publish`].
    pub fn details_writer(&self) -> Result<DetailsWriter> {
        let dir = self.profiles_dir();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(format!(".staging-{}.parquet", unique_stamp()));
        let file = File::create(&path).map_err(io(&path))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            // Every detail is its own text: a dictionary of them only costs the hashing.
            .set_dictionary_enabled(false)
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build();
        let writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(pq(&path))?;
        Ok(DetailsWriter {
            path,
            writer,
            ids: Int64Builder::new(),
            details: StringBuilder::new(),
            rows: 0,
            last: None,
        })
    }

    /// One customer's detail in a build, if the build's file holds it.
    pub fn profile_detail(&self, build_id: i64, customer_id: i64) -> Result<Option<String>> {
        let path = self.details_path(build_id);
        if !path.exists() {
            return Ok(None);
        }
        let file = File::open(&path).map_err(io(&path))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(&path))?;
        let groups: Vec<usize> = (0..builder.metadata().num_row_groups())
            .filter(|&g| match builder.metadata().row_group(g).column(0).statistics() {
                Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                    (Some(lo), Some(hi)) => (*lo..=*hi).contains(&customer_id),
                    _ => true,
                },
                _ => true,
            })
            .collect();
        let reader = builder.with_row_groups(groups).build().map_err(pq(&path))?;
        for batch in reader {
            let batch = batch?;
            let ids = batch.column(0).as_primitive::<Int64Type>();
            if let Some(i) = ids.values().iter().position(|&id| id == customer_id) {
                return Ok(Some(batch.column(1).as_string::<i32>().value(i).to_string()));
            }
        }
        Ok(None)
    }
}

impl Lake {
    /// Removes the details of `customer_ids` from every kept build's file (a privacy
    /// erasure): each file that holds one is rewritten without them and replaces the old
    /// one atomically. Returns how many details were removed.
    pub fn erase_profile_details(&self, customer_ids: &[i64]) -> Result<usize> {
        let dir = self.profiles_dir();
        if !dir.exists() {
            return Ok(0);
        }
        let mut removed = 0;
        let files: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("build-"))
            })
            .collect();
        for path in files {
            let file = File::open(&path).map_err(io(&path))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(pq(&path))?
                .build()
                .map_err(pq(&path))?;
            let mut writer = self.details_writer()?;
            let mut here = 0;
            for batch in reader {
                let batch = batch?;
                let ids = batch.column(0).as_primitive::<Int64Type>();
                let details = batch.column(1).as_string::<i32>();
                for i in 0..batch.num_rows() {
                    if customer_ids.contains(&ids.value(i)) {
                        here += 1;
                    } else {
                        writer.push(ids.value(i), details.value(i))?;
                    }
                }
            }
            let staged = writer.finish()?;
            if here == 0 {
                staged.discard()?;
                continue;
            }
            fs::rename(&staged.path, &path).map_err(io(&staged.path))?;
            removed += here;
        }
        Ok(removed)
    }
}

/// Writes one build's details; rows must come in increasing customer id order.
pub struct DetailsWriter {
    path: PathBuf,
    writer: ArrowWriter<File>,
    ids: Int64Builder,
    details: StringBuilder,
    rows: usize,
    last: Option<i64>,
}

impl DetailsWriter {
    pub fn push(&mut self, customer_id: i64, detail: &str) -> Result<()> {
        if self.last.is_some_and(|last| last >= customer_id) {
            return Err(LakeError::Arrow(arrow_schema::ArrowError::InvalidArgumentError(
                format!(
                    "profile details out of order: {customer_id} after {}",
                    self.last.unwrap_or_default()
                ),
            )));
        }
        self.last = Some(customer_id);
        self.ids.append_value(customer_id);
        self.details.append_value(detail);
        self.rows += 1;
        if self.rows == ROWS_PER_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![Arc::new(self.ids.finish()), Arc::new(self.details.finish())];
        let batch = RecordBatch::try_new(schema(), columns)?;
        self.writer.write(&batch).map_err(pq(&self.path))?;
        self.rows = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<StagedDetails> {
        self.flush()?;
        self.writer.close().map_err(pq(&self.path))?;
        Ok(StagedDetails { path: self.path })
    }
}

/// A build's details written but not yet visible.
#[derive(Debug)]
pub struct StagedDetails {
    path: PathBuf,
}

impl StagedDetails {
    /// Makes the details the build's, and drops those of builds older than the previous.
    pub fn publish(self, lake: &Lake, build_id: i64) -> Result<()> {
        let target = lake.details_path(build_id);
        fs::rename(&self.path, &target).map_err(io(&self.path))?;
        let mut builds: Vec<(i64, PathBuf)> = fs::read_dir(lake.profiles_dir())
            .map_err(io(&lake.profiles_dir()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let id = p
                    .file_name()?
                    .to_str()?
                    .strip_prefix("build-")?
                    .strip_suffix(".parquet")?
                    .parse()
                    .ok()?;
                Some((id, p))
            })
            .collect();
        builds.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        for (_, old) in builds.into_iter().skip(BUILDS_KEPT) {
            fs::remove_file(&old).map_err(io(&old))?;
        }
        Ok(())
    }

    pub fn discard(self) -> Result<()> {
        remove(&self.path)
    }
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erased_details_are_gone_from_every_build_and_the_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        for build in [1, 2] {
            let mut w = lake.details_writer().unwrap();
            for id in 1..=10_000 {
                w.push(id, &format!("{{\"build\": {build}, \"id\": {id}}}")).unwrap();
            }
            w.finish().unwrap().publish(&lake, build).unwrap();
        }
        assert_eq!(lake.erase_profile_details(&[7, 9_999]).unwrap(), 4);
        for build in [1, 2] {
            assert_eq!(lake.profile_detail(build, 7).unwrap(), None);
            assert_eq!(lake.profile_detail(build, 9_999).unwrap(), None);
            assert!(lake.profile_detail(build, 8).unwrap().unwrap().contains("\"id\": 8"));
        }
        assert_eq!(lake.erase_profile_details(&[7]).unwrap(), 0);
        let left: Vec<_> = fs::read_dir(lake.profiles_dir()).unwrap().collect();
        assert_eq!(left.len(), 2, "no staging file left behind");
    }

    #[test]
    fn details_are_found_by_customer_and_only_published_builds_count() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let mut w = lake.details_writer().unwrap();
        for id in (1..20_000).step_by(2) {
            w.push(id, &format!("{{\"customer_id\":{id}}}")).unwrap();
        }
        assert!(w.push(3, "late").is_err(), "out of order is refused");
        let staged = w.finish().unwrap();
        assert_eq!(lake.profile_detail(7, 9_001).unwrap(), None, "not published yet");
        staged.publish(&lake, 7).unwrap();
        assert_eq!(
            lake.profile_detail(7, 9_001).unwrap().as_deref(),
            Some("{\"customer_id\":9001}")
        );
        assert_eq!(lake.profile_detail(7, 9_002).unwrap(), None);
        assert_eq!(lake.profile_detail(8, 9_001).unwrap(), None);
        // Newer builds replace older ones; the previous is kept.
        for build in 8..=10 {
            let mut w = lake.details_writer().unwrap();
            w.push(1, &format!("build {build}")).unwrap();
            w.finish().unwrap().publish(&lake, build).unwrap();
        }
        assert_eq!(lake.profile_detail(10, 1).unwrap().as_deref(), Some("build 10"));
        assert_eq!(lake.profile_detail(9, 1).unwrap().as_deref(), Some("build 9"));
        assert_eq!(lake.profile_detail(8, 1).unwrap(), None);
        let w = lake.details_writer().unwrap();
        w.finish().unwrap().discard().unwrap();
        let left: Vec<_> = fs::read_dir(lake.profiles_dir()).unwrap().collect();
        assert_eq!(left.len(), 2, "a discarded build leaves nothing behind");
    }
}
