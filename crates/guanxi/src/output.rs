//! What the binary prints: one JSON document with `--json`, text otherwise; errors with
//! their stable code, and exit codes by kind (65: the input is bad, 1: anything else).

use std::process::ExitCode;

use guanxi_import::ImportError;
use guanxi_store::StoreError;
use serde::Serialize;

/// Prints a report: `json` as one document, or the text from `text`.
pub fn report<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", text(value));
    }
    Ok(())
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
    let invalid = e.chain().find_map(|c| match c.downcast_ref::<ImportError>() {
        Some(ImportError::Invalid { problems, total }) => Some((problems.as_slice(), *total)),
        _ => None,
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
    match invalid {
        Some(_) => ExitCode::from(65),
        None => ExitCode::FAILURE,
    }
}
