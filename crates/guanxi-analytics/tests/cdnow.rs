//! On CDNOW_master as of 1998-06-30: RFM values equal an independent SQL computation
//! (SQLite over the store's tables, written separately), and the pyramid holds
//! 1/4/15/80% of buyers ± 1 customer.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use guanxi_analytics::Engine;
use guanxi_domain::ShopTz;
use guanxi_domain::profile::{Settings, Tier};
use guanxi_import::{EncodingChoice, Format, Kind, Options, Quiet};
use guanxi_lake::Lake;
use guanxi_store_sqlite::SqliteStore;
use sqlx::{Connection, Row};

#[tokio::test]
async fn cdnow_rfm_matches_sql_and_the_pyramid_holds_its_shares() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let lake = Lake::new(dir.path().join("g.lake"));
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cdnow/CDNOW_master.txt");
    let tz = ShopTz::default();
    let opts = Options {
        kind: Kind::Orders,
        format: Format::Cdnow,
        source: None,
        encoding: EncodingChoice::Auto,
        mapping: None,
        decimal: Default::default(),
        tz,
        rejects: None,
        now: Utc::now(),
    };
    guanxi_import::import(&store, &lake, &[file], &opts, &mut Quiet)
        .await
        .unwrap();

    // The end of 1998-06-30, shop time.
    let as_of = chrono_tz_shanghai_end_of_1998_06_30();
    let s = Settings::default();
    let engine = Engine::open(&lake).await.unwrap();
    let build = guanxi_analytics::build(&engine, as_of, tz, &s, &Default::default(), None)
        .await
        .unwrap();
    assert_eq!(build.profiles.len(), 23_570, "every CDNOW customer bought");

    // Independent: R, F, M straight from the orders table with SQLite's own date arithmetic.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT customer_id,
                (unixepoch(?1) - unixepoch(max(coalesce(paid_at, created_at)))) / 86400 AS r,
                sum(CASE WHEN unixepoch(coalesce(paid_at, created_at)) > unixepoch(?2) THEN 1 ELSE 0 END) AS f,
                sum(CASE WHEN unixepoch(coalesce(paid_at, created_at)) > unixepoch(?2) THEN paid_cents ELSE 0 END) AS m
         FROM orders
         WHERE status NOT IN ('created', 'closed') AND unixepoch(coalesce(paid_at, created_at)) <= unixepoch(?1)
         GROUP BY customer_id",
    )
    .bind(as_of.format("%Y-%m-%d %H:%M:%S").to_string())
    .bind(
        (as_of - chrono::Months::new(12))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let sql: HashMap<i64, (i64, i64, i64)> = rows
        .iter()
        .map(|r| (r.get("customer_id"), (r.get("r"), r.get("f"), r.get("m"))))
        .collect();
    assert_eq!(sql.len(), build.profiles.len());
    for p in &build.profiles {
        let rfm = p.rfm.as_ref().unwrap();
        let want = sql[&p.customer_id];
        assert_eq!(
            (rfm.recency_days, i64::from(rfm.frequency), rfm.monetary.0),
            want,
            "customer {}",
            p.customer_id
        );
    }

    let n = build.profiles.len() as f64;
    let count = |t: Tier| {
        build
            .profiles
            .iter()
            .filter(|p| p.tier.as_ref().unwrap().class == t)
            .count() as f64
    };
    for (tier, share) in [
        (Tier::Vip, 0.01),
        (Tier::Major, 0.04),
        (Tier::Ordinary, 0.15),
        (Tier::Small, 0.80),
    ] {
        assert!((count(tier) - n * share).abs() <= 1.0, "{tier}: {} of {n}", count(tier));
    }
}

/// 1998-06-30 23:59:59.999999 in Shanghai (UTC+8, no daylight saving that year).
fn chrono_tz_shanghai_end_of_1998_06_30() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(1998, 6, 30, 15, 59, 59).unwrap() + chrono::Duration::microseconds(999_999)
}
