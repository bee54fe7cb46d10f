//! Times are stored in UTC; the shop's time zone (default Asia/Shanghai) says what a
//! local time in an export means and where a "day" begins.

use std::fmt;
use std::str::FromStr;

use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The shop's time zone, an IANA name such as `Asia/Shanghai`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopTz(pub Tz);

impl Default for ShopTz {
    fn default() -> Self {
        ShopTz(chrono_tz::Asia::Shanghai)
    }
}

impl ShopTz {
    /// The first moment of `date` in the shop's time zone (where a daylight-saving gap
    /// swallows midnight, the first moment that exists; `None` only past chrono's range).
    pub fn start_of(self, date: chrono::NaiveDate) -> Option<chrono::DateTime<chrono::Utc>> {
        use chrono::TimeZone as _;
        (0..4)
            .find_map(|h| self.0.from_local_datetime(&date.and_hms_opt(h, 0, 0)?).earliest())
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

impl FromStr for ShopTz {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<Tz>()
            .map(ShopTz)
            .map_err(|_| format!("expected an IANA time zone such as Asia/Shanghai, found {s:?}"))
    }
}

impl fmt::Display for ShopTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error(
        "expected a date-time like 2024-01-15 10:23:45 (shop time), 2024-01-15T02:23:45Z or 2024-01-15, found {0:?}"
    )]
    Unrecognised(String),
    #[error("{0:?} does not exist in the shop's time zone (a daylight-saving gap)")]
    NotInZone(String),
    #[error("expected a date like 2024-01-15, found {0:?}")]
    NotADate(String),
}

/// Naive layouts seen in shop exports, read as the shop's local time.
const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
];

/// Layouts that carry their own offset (Shopify writes `2024-01-15 10:23:45 +0800`).
const OFFSET_FORMATS: &[&str] = &["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M %z"];

/// Parses a timestamp from an export. Times with an offset or `Z` are exact; times
/// without are the shop's local time; a bare date is local midnight.
pub fn parse_timestamp(input: &str, tz: ShopTz) -> Result<DateTime<Utc>, TimeError> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for items in OFFSET_ITEMS.iter() {
        if let Some(t) = parsed(s, items).and_then(|p| p.to_datetime().ok()) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    let naive = NAIVE_ITEMS
        .iter()
        .find_map(|items| parsed(s, items)?.to_naive_datetime_with_offset(0).ok())
        .or_else(|| parse_date(s).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .ok_or_else(|| TimeError::Unrecognised(input.to_string()))?;
    tz.0.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| TimeError::NotInZone(input.to_string()))
}

/// The layouts above, compiled once: chrono's `parse_from_str` compiles its format on
/// every call, which was most of the time a 10M-row import spent reading times.
static NAIVE_ITEMS: LazyLock<Vec<Vec<Item<'static>>>> = LazyLock::new(|| compiled(NAIVE_FORMATS));
static OFFSET_ITEMS: LazyLock<Vec<Vec<Item<'static>>>> = LazyLock::new(|| compiled(OFFSET_FORMATS));

fn compiled(formats: &[&'static str]) -> Vec<Vec<Item<'static>>> {
    // The layouts are constants checked by the tests below; one that did not compile
    // would be left out, never a panic.
    formats
        .iter()
        .filter_map(|f| StrftimeItems::new(f).parse().ok())
        .collect()
}

/// `s` read by one compiled layout, as `parse_from_str` reads it.
fn parsed(s: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut p = Parsed::new();
    chrono::format::parse(&mut p, s, items.iter()).ok()?;
    Some(p)
}

/// Parses a calendar date: `2024-01-15`, `2024/1/15` or `20240115`.
pub fn parse_date(input: &str) -> Result<NaiveDate, TimeError> {
    let s = input.trim();
    ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        // `%Y%m%d` alone would read `2024011` as a date; insist on the full width.
        .filter(|_| s.len() >= 8)
        .ok_or_else(|| TimeError::NotADate(input.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn local_times_are_shop_times() {
        let tz = ShopTz::default();
        assert_eq!(
            parse_timestamp("2024-01-15 10:23:45", tz),
            Ok(utc("2024-01-15T02:23:45Z"))
        );
        assert_eq!(parse_timestamp("2024-01-15", tz), Ok(utc("2024-01-14T16:00:00Z")));
        assert_eq!(parse_timestamp("19970101", tz), Ok(utc("1996-12-31T16:00:00Z")));
        assert_eq!(parse_timestamp("2024/1/5 8:00", tz), Ok(utc("2024-01-05T00:00:00Z")));
    }

    #[test]
    fn explicit_offsets_win() {
        let tz = ShopTz::default();
        assert_eq!(
            parse_timestamp("2024-01-15T10:00:00Z", tz),
            Ok(utc("2024-01-15T10:00:00Z"))
        );
        assert_eq!(
            parse_timestamp("2024-01-15 10:00:00 -0500", tz),
            Ok(utc("2024-01-15T15:00:00Z"))
        );
    }

    #[test]
    fn every_layout_compiles_and_reads_its_own_form() {
        assert_eq!(NAIVE_ITEMS.len(), NAIVE_FORMATS.len());
        assert_eq!(OFFSET_ITEMS.len(), OFFSET_FORMATS.len());
        let tz = ShopTz::default();
        for s in [
            "2024-01-15 10:23:45",
            "2024-01-15 10:23:45.5",
            "2024-01-15T10:23:45",
            "2024-01-15T10:23:45.5",
            "2024-01-15 10:23",
            "2024/01/15 10:23:45",
            "2024/01/15 10:23",
        ] {
            let t = parse_timestamp(s, tz).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(t.date_naive(), NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(), "{s}");
        }
        for s in [
            "2024-01-15 10:23:45 +0800",
            "2024-01-15 10:23:45+0800",
            "2024-01-15 10:23 +0800",
        ] {
            let t = parse_timestamp(s, tz).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(
                t,
                utc("2024-01-15T02:23:00Z") + chrono::Duration::seconds(if s.contains(":45") { 45 } else { 0 }),
                "{s}"
            );
        }
    }

    #[test]
    fn rejects_non_dates() {
        let tz = ShopTz::default();
        assert!(parse_timestamp("yesterday", tz).is_err());
        assert!(parse_timestamp("2024-13-01", tz).is_err());
        assert!(parse_timestamp("2024-02-30 10:00:00", tz).is_err());
        assert!(parse_date("2024011").is_err());
    }
}
