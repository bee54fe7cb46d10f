//! The days date-triggered programs know: Chinese public holidays (the lunar ones from a
//! table, 2024–2030), the shopping festivals (618, Double 11, Double 12), and a shop's own
//! days written `MM-DD` (an anniversary: `08-08`).

use chrono::NaiveDate;

/// (year, month, day).
type Ymd = (i32, u32, u32);

/// Lunar-calendar holidays by Gregorian date, from the State Council's published dates.
const LUNAR: &[(&str, [Ymd; 7])] = &[
    (
        "spring-festival",
        [
            (2024, 2, 10),
            (2025, 1, 29),
            (2026, 2, 17),
            (2027, 2, 6),
            (2028, 1, 26),
            (2029, 2, 13),
            (2030, 2, 3),
        ],
    ),
    (
        "dragon-boat",
        [
            (2024, 6, 10),
            (2025, 5, 31),
            (2026, 6, 19),
            (2027, 6, 9),
            (2028, 5, 28),
            (2029, 6, 16),
            (2030, 6, 5),
        ],
    ),
    (
        "mid-autumn",
        [
            (2024, 9, 17),
            (2025, 10, 6),
            (2026, 9, 25),
            (2027, 9, 15),
            (2028, 10, 3),
            (2029, 9, 22),
            (2030, 9, 12),
        ],
    ),
];

/// Days on the same date every year.
const FIXED: &[(&str, u32, u32)] = &[
    ("new-year", 1, 1),
    ("valentine", 2, 14),
    ("womens-day", 3, 8),
    ("labour-day", 5, 1),
    ("618", 6, 18),
    ("national-day", 10, 1),
    ("double-11", 11, 11),
    ("double-12", 12, 12),
    ("christmas", 12, 25),
];

/// Every day name a program may use (besides `birthday` and `MM-DD`).
pub fn names() -> impl Iterator<Item = &'static str> {
    FIXED.iter().map(|d| d.0).chain(LUNAR.iter().map(|d| d.0))
}

/// The date of `name` in `year`; `None` for an unknown name or a lunar holiday outside
/// the table's years.
pub fn day(name: &str, year: i32) -> Option<NaiveDate> {
    if let Some((_, m, d)) = FIXED.iter().find(|d| d.0 == name) {
        return NaiveDate::from_ymd_opt(year, *m, *d);
    }
    if let Some((_, days)) = LUNAR.iter().find(|d| d.0 == name) {
        let (_, m, d) = days.iter().find(|d| d.0 == year)?;
        return NaiveDate::from_ymd_opt(year, *m, *d);
    }
    let (m, d) = name.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year, m.parse().ok()?, d.parse().ok()?)
}

/// Whether `name` is a day a date trigger may name.
pub fn known(name: &str) -> bool {
    name == "birthday" || day(name, 2028).is_some() || day(name, 2027).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_by_name() {
        assert_eq!(day("double-11", 2026), NaiveDate::from_ymd_opt(2026, 11, 11));
        assert_eq!(day("spring-festival", 2026), NaiveDate::from_ymd_opt(2026, 2, 17));
        assert_eq!(day("spring-festival", 2031), None, "outside the table");
        assert_eq!(day("08-08", 2026), NaiveDate::from_ymd_opt(2026, 8, 8));
        assert_eq!(day("02-29", 2027), None);
        assert!(known("02-29"), "a leap day is a day, in leap years");
        assert!(known("618") && known("birthday") && known("mid-autumn"));
        assert!(!known("black-friday") && !known("8-8") && !known("13-01"));
        assert_eq!(names().count(), 12);
    }
}
