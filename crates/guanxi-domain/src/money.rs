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
    #[error("amount {0:?} is too large")]
    TooLarge(String),
    #[error("expected an amount of zero or more, found {0:?}")]
    Negative(String),
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// Parses a decimal amount: `12`, `12.5`, `12.50`, `-3.00`, `1,234.50`, `¥12.50`, `$12.50`.
    /// Thousands separators and a leading currency sign are accepted because shop exports
    /// carry them; anything else is an error rather than a guess.
    pub fn parse(input: &str) -> Result<Cents, MoneyError> {
        let s = input.trim();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let s = s
            .strip_prefix('¥')
            .or_else(|| s.strip_prefix('￥'))
            .or_else(|| s.strip_prefix('$'))
            .unwrap_or(s);
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        let bad = || MoneyError::NotANumber(input.to_string());
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if frac.len() > 2 {
            return Err(MoneyError::TooPrecise(input.to_string()));
        }
        let mut whole: i64 = 0;
        for (i, c) in int.chars().enumerate() {
            match c {
                '0'..='9' => {
                    whole = whole
                        .checked_mul(10)
                        .and_then(|w| w.checked_add(i64::from(c as u8 - b'0')))
                        .ok_or_else(|| MoneyError::TooLarge(input.to_string()))?;
                }
                // A thousands separator must follow a digit.
                ',' if i > 0 => {}
                _ => return Err(bad()),
            }
        }
        let mut cents: i64 = 0;
        for (i, c) in frac.chars().enumerate() {
            let d = c.to_digit(10).ok_or_else(bad)?;
            cents += i64::from(d) * if i == 0 { 10 } else { 1 };
        }
        let total = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(cents))
            .ok_or_else(|| MoneyError::TooLarge(input.to_string()))?;
        Ok(Cents(if negative { -total } else { total }))
    }

    /// Like [`Cents::parse`], refusing amounts below zero.
    pub fn parse_non_negative(input: &str) -> Result<Cents, MoneyError> {
        let c = Cents::parse(input)?;
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
        assert!(matches!(Cents::parse(",5"), Err(MoneyError::NotANumber(_))));
        assert!(matches!(
            Cents::parse("99999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
        assert!(matches!(Cents::parse_non_negative("-1"), Err(MoneyError::Negative(_))));
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Cents(1250).to_string(), "12.50");
        assert_eq!(Cents(-5).to_string(), "-0.05");
    }
}
