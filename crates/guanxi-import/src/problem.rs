//! A problem with the input, located: `file:line:column: field: what was expected`.

use std::fmt;
use std::path::Path;

use serde::Serialize;

/// One thing wrong with one place in an input file. `line` is the 1-based line where the
/// record starts; `column` is the 1-based CSV column (field number), 0 for the whole line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub column: u64,
    /// The column's header name, when the problem is in one field.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Where the parser is: a file and a line, to which a field adds its column.
#[derive(Debug, Clone)]
pub(crate) struct At {
    pub file: String,
    pub line: u64,
}

impl At {
    pub fn new(path: &Path, line: u64) -> At {
        At {
            file: path.display().to_string(),
            line,
        }
    }

    /// A problem with the whole line.
    pub fn line(&self, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            line: self.line,
            column: 0,
            field: None,
            message: message.into(),
        }
    }

    /// A problem in the field at 0-based `index` named `field`.
    pub fn field(&self, index: usize, field: &str, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            line: self.line,
            column: index as u64 + 1,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}
