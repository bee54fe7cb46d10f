//! Where a record came from: the platform or file format that named its ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The namespace of external ids: `taobao`, `shopify`, `cdnow`, `demo`, or a shop's own
/// name for a generic export. Order `1001` from Shopify and order `1001` from Taobao are
/// different orders, so every external id is qualified by its source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Source(String);

impl Source {
    /// A lowercase slug: ASCII letters, digits, `-` and `_`, 1 to 32 characters.
    pub fn parse(s: &str) -> Result<Source, String> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Source(s.to_string()))
        } else {
            Err(format!(
                "expected a source name of 1-32 lowercase letters, digits, '-' or '_', found {s:?}"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Source {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Source::parse(&s)
    }
}

impl From<Source> for String {
    fn from(s: Source) -> String {
        s.0
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
