//! What happened with one customer, newest first: the customer 360's timeline of orders,
//! service records, reviews and messages, and the search that finds a customer.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One customer's records (and those of customers merged into them), newest first, each
/// list cut at the limit asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    pub orders: Vec<HistoryOrder>,
    pub service: Vec<HistoryService>,
    pub reviews: Vec<HistoryReview>,
    pub messages: Vec<HistoryMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryOrder {
    pub source: String,
    pub external_id: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub paid_cents: i64,
    pub refund_cents: i64,
    /// Item titles (or SKUs) with quantities, in line order: "Tea × 2, Cup".
    pub items: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryService {
    pub kind: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub satisfaction: Option<i64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryReview {
    pub created_at: DateTime<Utc>,
    pub item_rating: Option<i64>,
    pub service_rating: Option<i64>,
    pub logistics_rating: Option<i64>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryMessage {
    pub channel: String,
    pub program: Option<String>,
    pub campaign: Option<String>,
    pub template: Option<String>,
    pub status: String,
    pub queued_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What a search text can mean; a customer matches any of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The text as typed, trimmed: an external id, or the start of a name.
    pub text: String,
    /// The text as guanxi's id (`42` or `#42`).
    pub id: Option<i64>,
    /// The text as a normalised mobile number.
    pub mobile: Option<String>,
    /// The text as a normalised email address.
    pub email: Option<String>,
}

impl Search {
    /// `None` for blank text.
    pub fn parse(text: &str) -> Option<Search> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(Search {
            text: text.to_string(),
            id: text.strip_prefix('#').unwrap_or(text).parse().ok(),
            mobile: guanxi_domain::Mobile::parse(text).ok().map(|m| m.as_str().to_string()),
            email: guanxi_domain::Email::parse(text).ok().map(|e| e.as_str().to_string()),
        })
    }

    /// The first string after every string that starts with the text, for a prefix
    /// search as an index range [text, end): the last character incremented.
    pub fn prefix_end(&self) -> String {
        let mut chars: Vec<char> = self.text.chars().collect();
        while let Some(last) = chars.pop() {
            if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
                chars.push(next);
                return chars.into_iter().collect();
            }
        }
        char::MAX.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::Search;

    #[test]
    fn a_search_reads_ids_numbers_and_addresses() {
        let s = Search::parse(" #42 ").unwrap();
        assert_eq!((s.id, s.mobile.as_deref(), s.email.as_deref()), (Some(42), None, None));
        let s = Search::parse("138 0013 8000").unwrap();
        assert_eq!(s.mobile.as_deref(), Some("13800138000"));
        let s = Search::parse("Ann@Example.com").unwrap();
        assert_eq!(s.email.as_deref(), Some("Ann@example.com"));
        assert_eq!(Search::parse("   "), None);
        assert_eq!(
            Search::parse("王").unwrap().prefix_end(),
            "王"
                .chars()
                .map(|c| char::from_u32(c as u32 + 1).unwrap())
                .collect::<String>()
        );
        assert_eq!(Search::parse("ab").unwrap().prefix_end(), "ac");
    }
}
