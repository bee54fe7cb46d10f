//! Contact details. Invalid ones are kept as typed and flagged, never silently dropped
//! (docs/domain.md §1, data hygiene): a [`Contact`] holds the raw text and, when it parses,
//! the normalised value used for matching and sending.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("expected an email address like name@example.com, found {0:?}")]
    Email(String),
    #[error("expected a mobile number (11 digits starting with 1, or +country digits), found {0:?}")]
    Mobile(String),
}

/// A normalised email address: trimmed, domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, ContactError> {
        let s = input.trim();
        let bad = || ContactError::Email(input.to_string());
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let ok = !local.is_empty()
            && local.len() <= 64
            && domain.len() <= 253
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(bad());
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A normalised mobile number: mainland China numbers as their 11 digits, others as
/// `+` and digits (E.164). Separators (spaces, dashes, dots, brackets) are removed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(input: &str) -> Result<Mobile, ContactError> {
        let bad = || ContactError::Mobile(input.to_string());
        let s = input.trim();
        let plus = s.starts_with('+') || s.starts_with("00");
        let mut digits = String::with_capacity(s.len());
        for (i, c) in s.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(bad()),
            }
        }
        let digits = if s.starts_with("00") {
            digits[2..].to_string()
        } else {
            digits
        };
        let china = |d: &str| d.len() == 11 && d.starts_with('1') && matches!(d.as_bytes()[1], b'3'..=b'9');
        if plus {
            if let Some(rest) = digits.strip_prefix("86") {
                if china(rest) {
                    return Ok(Mobile(rest.to_string()));
                }
                return Err(bad());
            }
            if (8..=15).contains(&digits.len()) {
                return Ok(Mobile(format!("+{digits}")));
            }
            return Err(bad());
        }
        if china(&digits) { Ok(Mobile(digits)) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A contact as given, with its normalised form when it is valid. `normalised: None`
/// with a raw value is an invalid contact, flagged for the shop to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact<T> {
    pub raw: String,
    pub normalised: Option<T>,
}

impl<T> Contact<T> {
    pub fn is_valid(&self) -> bool {
        self.normalised.is_some()
    }
}

/// A customer's external id as staff and the audit log see it: a Shopify buyer's id is
/// their e-mail (or mobile), as its export names them, and is masked like one; a
/// platform's opaque id is shown as it is.
pub fn shown_id(external_id: &str) -> String {
    if external_id.contains('@') || Mobile::parse(external_id).is_ok() {
        masked(external_id)
    } else {
        external_id.to_string()
    }
}

/// A contact as staff may see it on screen: enough to recognise, not to copy. A mobile
/// keeps its first 3 and last 4 digits (138****8000, the way Chinese platforms show
/// them); an email its first character and domain (a***@example.com); anything else its
/// last 2 characters.
pub fn masked(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    if let Some(at) = chars.iter().position(|c| *c == '@') {
        let first: String = chars.iter().take(1.min(at)).collect();
        let domain: String = chars[at..].iter().collect();
        return format!("{first}***{domain}");
    }
    let digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
    // A phone number keeps its first 3 and last 4 digits only when at least 4 are hidden
    // (a mobile's 11 digits and more): a short, invalid number showed whole.
    if digits >= 11 && digits == chars.iter().filter(|c| c.is_ascii_alphanumeric()).count() {
        let d: Vec<char> = chars.iter().copied().filter(char::is_ascii_digit).collect();
        let (head, tail) = (&d[..3], &d[d.len() - 4..]);
        return format!(
            "{}{}{}",
            head.iter().collect::<String>(),
            "*".repeat(d.len() - 7),
            tail.iter().collect::<String>()
        );
    }
    let n = chars.len();
    let keep = n.saturating_sub(2);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect()
}

impl Contact<Email> {
    pub fn email(raw: &str) -> Contact<Email> {
        Contact {
            raw: raw.trim().to_string(),
            normalised: Email::parse(raw).ok(),
        }
    }
}

impl Contact<Mobile> {
    pub fn mobile(raw: &str) -> Contact<Mobile> {
        Contact {
            raw: raw.trim().to_string(),
            normalised: Mobile::parse(raw).ok(),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_masked_for_the_screen() {
        assert_eq!(masked("138-0013-8000"), "138****8000");
        assert_eq!(masked("alice@example.com"), "a***@example.com");
        assert_eq!(masked("@x.com"), "***@x.com");
        assert_eq!(masked("wx_li"), "***li");
        assert_eq!(masked(""), "");
        // A number too short to be a mobile is not shown whole.
        assert_eq!(masked("1000123"), "*****23");
        assert_eq!(masked("+86 138 0013 8000"), "861******8000");
    }

    #[test]
    fn mobiles_normalise() {
        assert_eq!(Mobile::parse("138-0013-8000").unwrap().as_str(), "13800138000");
        assert_eq!(Mobile::parse("+86 138 0013 8000").unwrap().as_str(), "13800138000");
        assert_eq!(Mobile::parse("+1 (415) 555-0100").unwrap().as_str(), "+14155550100");
        assert!(Mobile::parse("12345").is_err());
        assert!(Mobile::parse("1380013800a").is_err());
        assert!(Mobile::parse("12800138000").is_err());
    }

    #[test]
    fn emails_normalise() {
        assert_eq!(
            Email::parse(" Li.Na@Example.COM ").unwrap().as_str(),
            "Li.Na@example.com"
        );
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("a b@c.com").is_err());
    }

    #[test]
    fn invalid_contacts_are_kept_and_flagged() {
        let c = Contact::mobile("call me");
        assert_eq!(c.raw, "call me");
        assert!(!c.is_valid());
    }
}
