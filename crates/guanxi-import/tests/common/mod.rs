//! A fresh store and lake per test, and helpers to import and compare.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use guanxi_domain::ShopTz;
use guanxi_import::{EncodingChoice, Format, ImportError, Kind, Options, Problem, Quiet, Summary};
use guanxi_lake::{Lake, LakeStats};
use guanxi_store::{Counts, Store};
use guanxi_store_sqlite::SqliteStore;

pub struct Shop {
    pub store: SqliteStore,
    pub lake: Lake,
    pub dir: tempfile::TempDir,
}

impl Shop {
    pub async fn new() -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("guanxi.db")).await.unwrap();
        let lake = Lake::new(dir.path().join("guanxi.lake"));
        Shop { store, lake, dir }
    }

    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub async fn import(&self, kind: Kind, format: Format, files: &[PathBuf]) -> Result<Summary, ImportError> {
        self.import_with(options(kind, format), files).await
    }

    pub async fn import_with(&self, opts: Options, files: &[PathBuf]) -> Result<Summary, ImportError> {
        guanxi_import::import(&self.store, &self.lake, files, &opts, &mut Quiet).await
    }

    pub async fn state(&self) -> (Counts, LakeStats) {
        (self.store.counts().await.unwrap(), self.lake.stats().unwrap())
    }
}

pub fn options(kind: Kind, format: Format) -> Options {
    Options {
        kind,
        format,
        source: None,
        encoding: if format == Format::Taobao {
            EncodingChoice::Auto
        } else {
            EncodingChoice::Fixed(guanxi_import::Encoding::Utf8)
        },
        mapping: None,
        decimal: Default::default(),
        tz: ShopTz::default(),
        rejects: None,
        now: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    }
}

/// The problems of a failed import (panics if it did not fail for bad input).
pub fn problems(r: Result<Summary, ImportError>) -> (Vec<Problem>, u64) {
    match r {
        Err(ImportError::Invalid { problems, total }) => (problems, total),
        Err(e) => panic!("expected bad input to be reported, got {e}"),
        Ok(s) => panic!("expected bad input to be reported, the import succeeded: {s:?}"),
    }
}

pub fn at(path: &Path, line: u64, column: u64) -> String {
    format!("{}:{line}:{column}: ", path.display())
}
