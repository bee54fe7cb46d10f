//! The rejects file of `--skip-bad-rows`: one row per rejected input row, with where it
//! was, why, and the record as read, so that it can be fixed and imported again.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::{ImportError, Problem};

pub(crate) struct Rejects {
    path: String,
    writer: csv::Writer<BufWriter<File>>,
}

impl Rejects {
    pub fn create(path: &Path) -> Result<Rejects, ImportError> {
        let err = |e: &dyn std::fmt::Display| ImportError::Rejects {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let file = File::create(path).map_err(|e| err(&e))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        writer
            .write_record(["file", "line", "column", "field", "reason", "record"])
            .map_err(|e| err(&e))?;
        Ok(Rejects {
            path: path.display().to_string(),
            writer,
        })
    }

    pub fn write(&mut self, problem: &Problem, record: &csv::ByteRecord) -> Result<(), ImportError> {
        let mut line = csv::Writer::from_writer(Vec::new());
        let raw = line
            .write_byte_record(record)
            .and_then(|_| line.into_inner().map_err(|e| e.into_error().into()));
        let raw = String::from_utf8_lossy(&raw.unwrap_or_default()).trim_end().to_string();
        self.writer
            .write_record([
                problem.file.as_str(),
                &problem.line.to_string(),
                &problem.column.to_string(),
                problem.field.as_deref().unwrap_or(""),
                &problem.message,
                &raw,
            ])
            .map_err(|e| ImportError::Rejects {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }

    pub fn finish(mut self) -> Result<String, ImportError> {
        self.writer.flush().map_err(|e| ImportError::Rejects {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        Ok(self.path)
    }
}
