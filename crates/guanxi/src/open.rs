//! Opening the store chosen on the command line (SQLite file or PostgreSQL URL), its
//! lake, and the shop's time zone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use guanxi_domain::ShopTz;
use guanxi_lake::Lake;
use guanxi_store::Store;

use crate::cli::Global;

/// An open store and what goes with it.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub lake: Lake,
    pub tz: ShopTz,
    /// Where the store is, for messages (never with a password).
    pub location: String,
}

impl Opened {
    /// The shop as the use cases (`guanxi_app`) take it.
    pub fn shop(&self) -> guanxi_app::Shop<'_> {
        guanxi_app::Shop {
            store: self.store.as_ref(),
            lake: &self.lake,
            tz: self.tz,
        }
    }
}

const TZ_SETTING: &str = "shop.time_zone";

/// Opens the store; `default_db` is the file used when neither --db nor a URL is given.
pub async fn open(global: &Global, default_db: &Path) -> anyhow::Result<Opened> {
    let (store, location, default_lake): (Arc<dyn Store>, String, PathBuf) = match &global.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = guanxi_store_postgres::PgStore::open(url).await?;
            (
                Arc::new(store),
                guanxi_store_postgres::redact(url),
                PathBuf::from("guanxi.lake"),
            )
        }
        Some(url) if url.starts_with("sqlite:") => {
            let store = guanxi_store_sqlite::SqliteStore::open_url(url).await?;
            (Arc::new(store), url.clone(), PathBuf::from("guanxi.lake"))
        }
        Some(url) => anyhow::bail!("--database-url: expected postgres://… or sqlite:…, found {url:?}"),
        None => {
            let path = global.db.clone().unwrap_or_else(|| default_db.to_path_buf());
            let store = guanxi_store_sqlite::SqliteStore::open(&path).await?;
            (Arc::new(store), path.display().to_string(), path.with_extension("lake"))
        }
    };
    let lake = Lake::new(global.lake.clone().unwrap_or(default_lake));
    let tz = match &global.time_zone {
        Some(name) => {
            let tz: ShopTz = name.parse().map_err(anyhow::Error::msg).context("--time-zone")?;
            store.set_setting(TZ_SETTING, &tz.to_string()).await?;
            tz
        }
        None => match store.setting(TZ_SETTING).await? {
            Some(name) => name
                .parse()
                .map_err(anyhow::Error::msg)
                .context("the store's shop.time_zone setting")?,
            None => ShopTz::default(),
        },
    };
    Ok(Opened {
        store,
        lake,
        tz,
        location,
    })
}
