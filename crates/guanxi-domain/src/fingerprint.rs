//! A stable content hash of a record, so that a store can tell "unchanged" from
//! "updated" on re-import by comparing one number.

/// Builds a 64-bit XXH3 hash over fields written in a fixed order with length prefixes
/// (so `("ab","c")` and `("a","bc")` differ). XXH3 is a published algorithm: the value is
/// the same across versions and machines, which matters because it is stored.
#[derive(Default)]
pub struct Fingerprint {
    buf: Vec<u8>,
}

impl Fingerprint {
    pub fn new() -> Self {
        Fingerprint {
            buf: Vec::with_capacity(256),
        }
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.u8(1).str(s),
            None => self.u8(0),
        }
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn opt_i64(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.u8(1).i64(v),
            None => self.u8(0),
        }
    }

    /// The hash as a signed integer, the type both SQLite and PostgreSQL store natively.
    pub fn finish(&self) -> i64 {
        xxhash_rust::xxh3::xxh3_64(&self.buf) as i64
    }
}
