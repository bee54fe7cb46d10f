//! Reading tabular files: encoding, header, rows, typed fields with located problems.
//!
//! Files are read as bytes by the `csv` crate (streaming, constant memory) and each field
//! is decoded on access, so an invalid byte is reported at its line and column rather
//! than replaced or failing the whole file. Encodings: UTF-8 (a BOM is skipped) and GBK
//! (GB18030), which Taobao's seller centre still writes.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::{Cents, DecimalMark, ShopTz, parse_date, parse_timestamp};

use crate::problem::{At, Problem};

/// The text encoding of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gbk,
}

/// What the user asked for: a fixed encoding, or detection from the first 64 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    #[default]
    Auto,
    Fixed(Encoding),
}

impl EncodingChoice {
    pub fn parse(s: &str) -> Result<EncodingChoice, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(EncodingChoice::Auto),
            "utf-8" | "utf8" => Ok(EncodingChoice::Fixed(Encoding::Utf8)),
            "gbk" | "gb18030" | "gb2312" => Ok(EncodingChoice::Fixed(Encoding::Gbk)),
            _ => Err(format!("expected an encoding of auto, utf-8 or gbk, found {s:?}")),
        }
    }
}

impl Encoding {
    fn decode<'a>(self, bytes: &'a [u8]) -> Result<Cow<'a, str>, String> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| {
                format!(
                    "invalid UTF-8 (byte 0x{:02x} at offset {} of the field); if the file is in GBK, pass --encoding gbk",
                    bytes[e.valid_up_to()],
                    e.valid_up_to()
                )
            }),
            Encoding::Gbk => encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or_else(|| "invalid GBK: a byte sequence that is no GBK character".to_string()),
        }
    }
}

/// Detects the encoding of a file from its start: a UTF-8 BOM or valid UTF-8 means
/// UTF-8 (a character cut by the end of the sample is fine), anything else GBK.
fn detect(sample: &[u8]) -> Encoding {
    if sample.starts_with(b"\xEF\xBB\xBF") {
        return Encoding::Utf8;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => Encoding::Utf8,
        Err(e) if e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Gbk,
    }
}

/// A CSV (or whitespace-separated) file being read row by row.
pub(crate) struct Table {
    pub path: String,
    pub encoding: Encoding,
    /// How the file writes decimals (the command says: `--decimal-comma`).
    decimal: DecimalMark,
    reader: csv::Reader<BufReader<File>>,
    record: csv::ByteRecord,
    pub total_bytes: u64,
}

/// How fields are separated.
#[derive(Clone, Copy)]
pub(crate) enum Layout {
    Csv,
    /// Runs of spaces or tabs, as in the CDNOW files.
    Whitespace,
}

impl Table {
    /// Opens `path`; `decimal`: how its amounts write decimals (the command says).
    pub fn open(path: &Path, choice: EncodingChoice, decimal: DecimalMark, layout: Layout) -> Result<Table, Problem> {
        let at = At::new(path, 1);
        let mut file = File::open(path).map_err(|e| at.line(format!("cannot open: {e}")))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut sample = vec![0; 64 * 1024];
        let n = read_up_to(&mut file, &mut sample).map_err(|e| at.line(format!("cannot read: {e}")))?;
        sample.truncate(n);
        let encoding = match choice {
            EncodingChoice::Fixed(e) => e,
            EncodingChoice::Auto => detect(&sample),
        };
        let bom = if sample.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        file.seek(SeekFrom::Start(bom))
            .map_err(|e| at.line(format!("cannot read: {e}")))?;
        if sample.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(at.line("the file is empty; expected a header line and rows"));
        }
        let mut builder = csv::ReaderBuilder::new();
        builder.has_headers(false).flexible(true);
        if let Layout::Whitespace = layout {
            // Runs of blanks yield empty fields here; `Row::words` drops them.
            builder.delimiter(b' ');
        }
        let reader = builder.from_reader(BufReader::with_capacity(256 * 1024, file));
        Ok(Table {
            path: path.display().to_string(),
            encoding,
            decimal,
            reader,
            record: csv::ByteRecord::new(),
            total_bytes,
        })
    }

    /// Reads the next record; `None` at the end. Blank lines are skipped.
    pub fn next(&mut self) -> Option<Result<Row<'_>, Problem>> {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {
                    let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                    if self.record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    return Some(Ok(Row {
                        at: At {
                            file: self.path.clone(),
                            line,
                        },
                        record: &self.record,
                        table: self,
                    }));
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    let at = At {
                        file: self.path.clone(),
                        line,
                    };
                    return Some(Err(at.line(format!("unreadable CSV: {e}"))));
                }
            }
        }
    }

    /// Bytes consumed so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// One record of a [`Table`].
pub(crate) struct Row<'t> {
    pub at: At,
    record: &'t csv::ByteRecord,
    table: &'t Table,
}

impl<'t> Row<'t> {
    pub fn raw(&self) -> &csv::ByteRecord {
        self.record
    }

    pub fn decimal(&self) -> DecimalMark {
        self.table.decimal
    }

    /// The fields of a whitespace-separated line (empty fields from repeated blanks dropped).
    pub fn words(&self) -> Vec<&'t [u8]> {
        self.record
            .iter()
            .flat_map(|f| f.split(|b| *b == b'\t'))
            .filter(|f| !f.is_empty())
            .collect()
    }

    /// Decodes the field at `index` (trimmed); an absent field reads as empty.
    pub fn text(&self, index: usize, name: &str) -> Result<Cow<'t, str>, Problem> {
        let bytes = self.record.get(index).unwrap_or(b"");
        match self.table.encoding.decode(bytes) {
            Ok(Cow::Borrowed(s)) => Ok(Cow::Borrowed(s.trim())),
            Ok(Cow::Owned(s)) => Ok(Cow::Owned(s.trim().to_string())),
            Err(e) => Err(self.at.field(index, name, e)),
        }
    }
}

/// A file's header: column names and where the format's columns are.
pub(crate) struct Header {
    pub names: Vec<String>,
}

impl Header {
    pub fn read(row: &Row<'_>) -> Result<Header, Problem> {
        let mut names = Vec::with_capacity(row.raw().len());
        for i in 0..row.raw().len() {
            names.push(row.text(i, "header")?.trim_start_matches('\u{feff}').to_string());
        }
        Ok(Header { names })
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }

    /// For guanxi's own formats: a column we do not know is a typo until shown otherwise.
    pub fn reject_unknown(&self, at: &At, known: &[&str]) -> Result<(), Problem> {
        let unknown: Vec<&str> = self
            .names
            .iter()
            .map(String::as_str)
            .filter(|n| !known.iter().any(|c| c.eq_ignore_ascii_case(n)))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(at.line(format!(
            "unknown column{} {}; this format's columns are: {}",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.join(", "),
            known.join(",")
        )))
    }

    /// The columns a format reads: `required` must all be present.
    pub fn columns<const N: usize>(
        &self,
        at: &At,
        required: &[&'static str],
        optional: [&'static str; N],
    ) -> Result<Columns<N>, Problem> {
        let missing: Vec<&str> = required.iter().copied().filter(|r| self.find(r).is_none()).collect();
        if !missing.is_empty() {
            return Err(at.line(format!(
                "missing required column{} {}; the header has: {}",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                self.names.join(", ")
            )));
        }
        Ok(Columns {
            index: optional.map(|name| (name, self.find(name))),
            width: self.names.len(),
        })
    }
}

/// Where each of a format's columns is in this file (`None`: absent).
pub(crate) struct Columns<const N: usize> {
    pub index: [(&'static str, Option<usize>); N],
    pub width: usize,
}

/// The fields of `row` under a format's columns (`None`: no header was read), checked
/// to be as many as the header's.
pub(crate) fn fields<'r, 't, const N: usize>(
    cols: Option<&'r Columns<N>>,
    row: &'r Row<'t>,
) -> Result<Fields<'r, 't, N>, Problem> {
    let cols = cols.ok_or_else(|| row.at.line("no header before this row"))?;
    let f = Fields { row, cols };
    f.check_width()?;
    Ok(f)
}

/// Typed access to one row through a format's [`Columns`]. Every accessor names the
/// field and what was expected when the value is wrong.
pub(crate) struct Fields<'r, 't, const N: usize> {
    pub row: &'r Row<'t>,
    pub cols: &'r Columns<N>,
}

impl<'r, 't, const N: usize> Fields<'r, 't, N> {
    /// Checks the row has as many fields as the header.
    pub fn check_width(&self) -> Result<(), Problem> {
        let n = self.row.raw().len();
        if n != self.cols.width {
            return Err(self.row.at.line(format!(
                "expected {} fields as in the header, found {n}{}",
                self.cols.width,
                if n < self.cols.width {
                    " (is the line cut short?)"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    fn slot(&self, col: usize) -> (&'static str, Option<usize>) {
        self.cols.index[col]
    }

    /// The value, or `None` when the column is absent or the field empty.
    pub fn opt(&self, col: usize) -> Result<Option<Cow<'t, str>>, Problem> {
        let (name, index) = self.slot(col);
        let Some(i) = index else { return Ok(None) };
        let v = self.row.text(i, name)?;
        Ok(if v.is_empty() { None } else { Some(v) })
    }

    pub fn opt_string(&self, col: usize) -> Result<Option<String>, Problem> {
        Ok(self.opt(col)?.map(Cow::into_owned))
    }

    pub fn req(&self, col: usize) -> Result<Cow<'t, str>, Problem> {
        let (name, index) = self.slot(col);
        self.opt(col)?
            .ok_or_else(|| self.problem(col, format!("a value is required here{}", absent(index, name))))
    }

    pub fn problem(&self, col: usize, message: impl Into<String>) -> Problem {
        let (name, index) = self.slot(col);
        match index {
            Some(i) => self.row.at.field(i, name, message),
            None => self.row.at.line(format!("{name}: {}", message.into())),
        }
    }

    pub fn parse<T, E: std::fmt::Display>(
        &self,
        col: usize,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, Problem> {
        match self.opt(col)? {
            None => Ok(None),
            Some(v) => f(&v).map(Some).map_err(|e| self.problem(col, e.to_string())),
        }
    }

    pub fn money(&self, col: usize) -> Result<Option<Cents>, Problem> {
        let mark = self.row.decimal();
        self.parse(col, |s| Cents::parse_non_negative(s, mark))
    }

    pub fn time(&self, col: usize, tz: ShopTz) -> Result<Option<DateTime<Utc>>, Problem> {
        self.parse(col, |s| parse_timestamp(s, tz))
    }

    pub fn date(&self, col: usize) -> Result<Option<NaiveDate>, Problem> {
        self.parse(col, parse_date)
    }

    pub fn quantity(&self, col: usize) -> Result<Option<u32>, Problem> {
        self.parse(col, |s| {
            s.parse::<u32>()
                .map_err(|_| format!("expected a whole number of 0 or more, found {s:?}"))
        })
    }
}

fn absent(index: Option<usize>, name: &str) -> String {
    match index {
        Some(_) => String::new(),
        None => format!(" (no column {name})"),
    }
}
