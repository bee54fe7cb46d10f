//! Money at rest is integer cents (分) in the shop's currency; never a float.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in the smallest unit of the shop's currency (cents, 分).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cents(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("expected an amount like 12.50, found {0:?}")]
    NotANumber(String),
    #[error("expected at most 2 decimal places, found {0:?}")]
    TooPrecise(String),
    #[error("amount {0:?} is too large (at most 10,000,000,000.00)")]
    TooLarge(String),
    #[error(
        "expected an amount like 12.50, found {0:?}: a comma followed by fewer than three digits is a decimal comma; if the file writes decimals with a comma, pass --decimal-comma"
    )]
    DecimalComma(String),
    #[error("expected thousands separators between groups of three digits (1,234,567.50), found {0:?}")]
    Grouping(String),
    #[error("expected an amount of zero or more, found {0:?}")]
    Negative(String),
}

/// How a file writes the decimal part of an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalMark {
    /// `1,234.50`: most exports, Taobao's and Shopify's included.
    #[default]
    Point,
    /// `1.234,50` or `1 234,50`: European spreadsheets (`--decimal-comma`).
    Comma,
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// The largest amount read from a file: ten billion in the shop's currency. Far above
    /// any order, and small enough that a million of them add up without overflow.
    pub const MAX_READ: Cents = Cents(1_000_000_000_000);

    /// Parses a decimal amount written with a decimal point: `12`, `12.5`, `12.50`,
    /// `-3.00`, `1,234.50`, `¥12.50`, `$12.50`. See [`Cents::parse_with`].
    pub fn parse(input: &str) -> Result<Cents, MoneyError> {
        Cents::parse_with(input, DecimalMark::Point)
    }

    /// Parses a decimal amount with the given decimal mark. Thousands separators (`,`
    /// with a decimal point; `.`, a space or a no-break space with a decimal comma) and a
    /// leading currency sign are accepted because shop exports carry them, but only in
    /// groups of three digits: `12,50` is not twelve hundred and fifty, it is an amount
    /// written with a decimal comma, and `1,2,3` is nothing. Anything else is an error
    /// rather than a guess.
    pub fn parse_with(input: &str, mark: DecimalMark) -> Result<Cents, MoneyError> {
        let s = input.trim();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let s = ['¥', '￥', '$', '€', '£']
            .iter()
            .find_map(|sign| s.strip_prefix(*sign))
            .unwrap_or(s)
            .trim_start();
        let (decimal, thousands): (char, &[char]) = match mark {
            DecimalMark::Point => ('.', &[',']),
            DecimalMark::Comma => (',', &['.', ' ', '\u{a0}', '\u{202f}']),
        };
        let (int, frac) = match s.split_once(decimal) {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        let bad = || MoneyError::NotANumber(input.to_string());
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        // Groups between thousands separators: the first of 1 to 3 digits, the others of 3.
        let groups: Vec<&str> = int.split(|c| thousands.contains(&c)).collect();
        if groups.len() > 1 {
            let first_ok = (1..=3).contains(&groups[0].len());
            if !first_ok || groups[1..].iter().any(|g| g.len() != 3) {
                return Err(match mark {
                    DecimalMark::Point if groups.len() == 2 && groups[1].len() <= 2 && frac.is_empty() => {
                        MoneyError::DecimalComma(input.to_string())
                    }
                    _ => MoneyError::Grouping(input.to_string()),
                });
            }
        }
        if frac.len() > 2 {
            return Err(MoneyError::TooPrecise(input.to_string()));
        }
        let mut whole: i64 = 0;
        for c in groups.concat().chars() {
            let d = c.to_digit(10).ok_or_else(bad)?;
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(i64::from(d)))
                .ok_or_else(|| MoneyError::TooLarge(input.to_string()))?;
        }
        let mut cents: i64 = 0;
        for (i, c) in frac.chars().enumerate() {
            let d = c.to_digit(10).ok_or_else(bad)?;
            cents += i64::from(d) * if i == 0 { 10 } else { 1 };
        }
        let total = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(cents))
            .filter(|t| *t <= Cents::MAX_READ.0)
            .ok_or_else(|| MoneyError::TooLarge(input.to_string()))?;
        Ok(Cents(if negative { -total } else { total }))
    }

    /// `self × n`, or `None` past [`Cents::MAX_READ`] (a line's price times its quantity).
    pub fn times(self, n: i64) -> Option<Cents> {
        self.0
            .checked_mul(n)
            .filter(|t| t.abs() <= Cents::MAX_READ.0)
            .map(Cents)
    }

    /// Like [`Cents::parse_with`], refusing amounts below zero.
    pub fn parse_non_negative(input: &str, mark: DecimalMark) -> Result<Cents, MoneyError> {
        let c = Cents::parse_with(input, mark)?;
        if c.0 < 0 {
            return Err(MoneyError::Negative(input.to_string()));
        }
        Ok(c)
    }

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }
}

impl std::ops::Add for Cents {
    type Output = Cents;
    fn add(self, rhs: Cents) -> Cents {
        Cents(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub for Cents {
    type Output = Cents;
    fn sub(self, rhs: Cents) -> Cents {
        Cents(self.0.saturating_sub(rhs.0))
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shop_amounts() {
        assert_eq!(Cents::parse("12.50"), Ok(Cents(1250)));
        assert_eq!(Cents::parse("12.5"), Ok(Cents(1250)));
        assert_eq!(Cents::parse("12"), Ok(Cents(1200)));
        assert_eq!(Cents::parse(".5"), Ok(Cents(50)));
        assert_eq!(Cents::parse("1,234.05"), Ok(Cents(123405)));
        assert_eq!(Cents::parse("¥8.00"), Ok(Cents(800)));
        assert_eq!(Cents::parse("-3.00"), Ok(Cents(-300)));
    }

    #[test]
    fn refuses_what_is_not_money() {
        assert!(matches!(Cents::parse("abc"), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Cents::parse(""), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Cents::parse("1.234"), Err(MoneyError::TooPrecise(_))));
        assert!(matches!(Cents::parse("1e5"), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Cents::parse(",5"), Err(MoneyError::DecimalComma(_))));
        assert!(matches!(
            Cents::parse("99999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
        assert!(matches!(
            Cents::parse_non_negative("-1", DecimalMark::Point),
            Err(MoneyError::Negative(_))
        ));
    }

    #[test]
    fn a_decimal_comma_is_not_a_thousands_separator() {
        assert_eq!(Cents::parse("12,50"), Err(MoneyError::DecimalComma("12,50".into())));
        assert_eq!(Cents::parse("1,2,3"), Err(MoneyError::Grouping("1,2,3".into())));
        assert_eq!(Cents::parse("1,23.00"), Err(MoneyError::Grouping("1,23.00".into())));
        assert_eq!(Cents::parse("1234,567"), Err(MoneyError::Grouping("1234,567".into())));
        assert_eq!(Cents::parse("1,234,567.89"), Ok(Cents(123_456_789)));
        assert!(
            Cents::parse("12,50")
                .unwrap_err()
                .to_string()
                .contains("--decimal-comma")
        );
        let comma = |s| Cents::parse_with(s, DecimalMark::Comma);
        assert_eq!(comma("12,50"), Ok(Cents(1250)));
        assert_eq!(comma("1.234,5"), Ok(Cents(123_450)));
        assert_eq!(comma("1 234,50"), Ok(Cents(123_450)));
        assert_eq!(comma("€ 7"), Ok(Cents(700)));
        assert_eq!(comma("1.23,5"), Err(MoneyError::Grouping("1.23,5".into())));
        assert_eq!(comma("12.50"), Err(MoneyError::Grouping("12.50".into())));
    }

    #[test]
    fn amounts_are_bounded_so_that_sums_cannot_overflow() {
        assert_eq!(Cents::parse("10,000,000,000.00"), Ok(Cents::MAX_READ));
        assert!(matches!(Cents::parse("10000000000.01"), Err(MoneyError::TooLarge(_))));
        assert_eq!(Cents(100).times(3), Some(Cents(300)));
        assert_eq!(Cents::MAX_READ.times(2), None);
        assert_eq!(Cents(i64::MAX).times(2), None);
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Cents(1250).to_string(), "12.50");
        assert_eq!(Cents(-5).to_string(), "-0.05");
    }
}
