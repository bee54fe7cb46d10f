//! `guanxi privacy export|erase`: the use cases are `guanxi_app::privacy`; this finds
//! the customer, writes the file and prints.

use std::io::Write as _;

use chrono::Utc;
use guanxi_app::access::Actor;

use crate::cli::{Global, PrivacyCommand};
use crate::commands::customer::{lookup, source};
use crate::commands::default_db;
use crate::open::open;
use crate::output::{BadInput, done};

pub async fn run(global: &Global, cmd: PrivacyCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    match cmd {
        PrivacyCommand::Export { id, source: src, out } => {
            let customer = lookup(&o, &id, &source(&src)?, true).await?;
            let data = guanxi_app::privacy::export(o.shop(), customer, &Actor::cli(), Utc::now()).await?;
            let text = serde_json::to_string_pretty(&data)?;
            match out {
                Some(path) => {
                    // Whole or not at all: written beside, renamed into place.
                    let dir = path
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .unwrap_or(std::path::Path::new("."));
                    let mut file = tempfile::NamedTempFile::new_in(dir)?;
                    file.write_all(text.as_bytes())?;
                    file.persist(&path)?;
                    done(
                        global.json,
                        format!("wrote everything about customer #{customer} to {}", path.display()),
                        serde_json::json!({ "customer": customer, "file": path }),
                    )
                }
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
        PrivacyCommand::Erase { id, source: src, yes } => {
            if !yes {
                return Err(BadInput {
                    code: "confirm",
                    message: "--yes: an erasure cannot be undone; pass --yes to confirm it".into(),
                }
                .into());
            }
            let customer = lookup(&o, &id, &source(&src)?, true).await?;
            let e = guanxi_app::privacy::erase(o.shop(), customer, &Actor::cli()).await?;
            done(
                global.json,
                format!(
                    "erased customer #{customer}: {} record(s), {} order(s) anonymised (their money kept), {} profile detail(s) removed",
                    e.customers, e.orders, e.profile_details
                ),
                serde_json::to_value(&e)?,
            )
        }
    }
}
