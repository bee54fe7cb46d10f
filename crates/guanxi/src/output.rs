//! What the binary prints: one JSON document with `--json`, text otherwise; errors with
//! their stable code, and the exit code of their kind in the one table of answers
//! (`guanxi_app::Kind::exit_code`: 65 bad input, 77 denied, 75 try later, 1 anything else).

use std::process::ExitCode;

use guanxi_app::Kind;
use guanxi_import::ImportError;
use guanxi_store::StoreError;
use serde::Serialize;

/// Input the user typed that guanxi cannot take (a segment expression, a date), with a
/// stable code and the place: exits 65 like bad input files.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BadInput {
    pub code: &'static str,
    pub message: String,
}

/// Named values, serialised as one JSON object in their order (`{"r": …, "alpha": …}`),
/// never as an array of pairs a script would have to know the positions of.
#[derive(Debug, Clone, Default)]
pub struct Named<T>(pub Vec<(&'static str, T)>);

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, v)| (name, v)))
    }
}

/// Prints a report: `json` as one document, or the text from `text`.
pub fn report<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", text(value));
    }
    Ok(())
}

/// Reports an action done: `{"done": message, …fields}` with --json, the message otherwise.
pub fn done(json: bool, message: String, fields: serde_json::Value) -> anyhow::Result<()> {
    let mut doc = fields;
    if let Some(map) = doc.as_object_mut() {
        map.insert("done".into(), serde_json::Value::String(message.clone()));
    }
    report(json, &doc, |_| format!("{message}\n"))
}

/// The stable code of an error, looked up along its chain.
fn code(e: &anyhow::Error) -> &'static str {
    for cause in e.chain() {
        if let Some(i) = cause.downcast_ref::<ImportError>() {
            return i.code();
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return s.code();
        }
        if let Some(l) = cause.downcast_ref::<guanxi_lake::LakeError>() {
            return l.code();
        }
        if let Some(a) = cause.downcast_ref::<guanxi_analytics::AnalyticsError>() {
            return a.code();
        }
        if let Some(b) = cause.downcast_ref::<BadInput>() {
            return b.code;
        }
        if let Some(a) = cause.downcast_ref::<guanxi_app::AppError>() {
            return a.code();
        }
    }
    "error"
}

#[derive(Serialize)]
struct ErrorDoc<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [guanxi_import::Problem]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems_total: Option<u64>,
}

pub fn error(e: &anyhow::Error, json: bool) -> ExitCode {
    let code = code(e);
    // An import's problems, whether the import ran alone or within a use case (whose
    // error is transparent: the import's error is its own, not in the chain).
    let invalid = e.chain().find_map(|c| {
        let import = c
            .downcast_ref::<ImportError>()
            .or_else(|| match c.downcast_ref::<guanxi_app::AppError>() {
                Some(guanxi_app::AppError::Import(i)) => Some(i),
                _ => None,
            });
        match import {
            Some(ImportError::Invalid { problems, total }) => Some((problems.as_slice(), *total)),
            _ => None,
        }
    });
    tracing::debug!("{e:?}");
    if json {
        let doc = ErrorDoc {
            error: ErrorBody {
                code,
                message: format!("{e:#}"),
                problems: invalid.map(|(p, _)| p),
                problems_total: invalid.map(|(_, t)| t),
            },
        };
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        eprintln!("error[{code}]: {e:#}");
    }
    ExitCode::from(kind(e).exit_code())
}

/// Where an error sits in the one table of answers (`guanxi_app::Kind`), found along its
/// chain: the first error that knows says; anything else is ours (exit 1).
fn kind(e: &anyhow::Error) -> Kind {
    for cause in e.chain() {
        if let Some(a) = cause.downcast_ref::<guanxi_app::AppError>() {
            return a.kind();
        }
        if let Some(i) = cause.downcast_ref::<ImportError>() {
            return Kind::of_import(i);
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return Kind::of_store(s);
        }
        if cause.downcast_ref::<BadInput>().is_some() {
            return Kind::BadInput;
        }
    }
    Kind::Internal
}
