//! Customers (客户): who they are, how to reach them, and what they allow.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Contact, Email, Fingerprint, Mobile, Source};

/// A customer's identity in one source: Taobao nick, Shopify email, a shop's own id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CustomerKey {
    pub source: Source,
    pub external_id: String,
}

names! {
    pub enum Gender { Female = "female", Male = "male", Unknown = "unknown" }
}

names! {
    /// A way to reach a customer; consent is recorded per channel.
    pub enum Channel { Sms = "sms", Email = "email", Wechat = "wechat", Webhook = "webhook" }
}

names! {
    /// Consent to marketing on a channel. `Unknown` is not consent: programs that need
    /// consent treat it as a refusal.
    pub enum ConsentState { Granted = "granted", Denied = "denied", Unknown = "unknown" }
}

/// Consent on one channel, with when and where it was recorded (the evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub channel: Channel,
    pub state: ConsentState,
    pub recorded_at: DateTime<Utc>,
    /// Where the consent was given or withdrawn: an import file, a reply "TD", the UI.
    pub evidence: String,
}

impl ConsentState {
    /// How much the state allows: denied < unknown < granted.
    fn openness(self) -> u8 {
        match self {
            ConsentState::Denied => 0,
            ConsentState::Unknown => 1,
            ConsentState::Granted => 2,
        }
    }
}

/// When two records of one person disagree on a channel (identity merge), the more
/// restrictive consent wins: a refusal on either record is a refusal.
pub fn most_restrictive<'a>(a: &'a Consent, b: &'a Consent) -> &'a Consent {
    if b.state.openness() < a.state.openness() { b } else { a }
}

/// Everything the CRM keeps on a customer (docs/domain.md §1). Only `key` is required: an
/// order import knows no more than the buyer's id, a customers import fills the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub key: CustomerKey,
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<Contact<Mobile>>,
    pub email: Option<Contact<Email>>,
    pub qq: Option<String>,
    pub wechat: Option<String>,
    /// The platform's buyer credit level (买家信用等级), as the platform writes it.
    pub credit_level: Option<String>,
    /// How the customer found the shop (search, ad, referral…).
    pub source_channel: Option<String>,
    pub first_seen_at: Option<DateTime<Utc>>,
    pub preferred_style: Option<String>,
    /// 1 (indifferent to price) to 5 (buys only on discount), when known.
    pub price_sensitivity: Option<u8>,
    pub preferred_brand: Option<String>,
    pub preferred_channel: Option<Channel>,
    /// Disturbance tolerance: at most this many marketing messages per week.
    pub max_messages_per_week: Option<u16>,
    pub consents: Vec<Consent>,
    pub tags: Vec<String>,
}

impl Customer {
    /// A customer known only by key, as an order import first meets them.
    pub fn bare(key: CustomerKey) -> Customer {
        Customer {
            key,
            name: None,
            gender: None,
            birthday: None,
            province: None,
            city: None,
            phone: None,
            mobile: None,
            email: None,
            qq: None,
            wechat: None,
            credit_level: None,
            source_channel: None,
            first_seen_at: None,
            preferred_style: None,
            price_sensitivity: None,
            preferred_brand: None,
            preferred_channel: None,
            max_messages_per_week: None,
            consents: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// What is known of this customer updated by a `newer` record of them (a live event
    /// carries a few fields, not the whole record): what the newer record knows replaces
    /// ours, what it does not know stays; consent per channel is the more recently
    /// recorded one; tags are kept and added to.
    pub fn overlay(&mut self, newer: Customer) {
        fn take<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        take(&mut self.name, newer.name);
        take(&mut self.gender, newer.gender);
        take(&mut self.birthday, newer.birthday);
        take(&mut self.province, newer.province);
        take(&mut self.city, newer.city);
        take(&mut self.phone, newer.phone);
        take(&mut self.mobile, newer.mobile);
        take(&mut self.email, newer.email);
        take(&mut self.qq, newer.qq);
        take(&mut self.wechat, newer.wechat);
        take(&mut self.credit_level, newer.credit_level);
        take(&mut self.source_channel, newer.source_channel);
        take(&mut self.first_seen_at, newer.first_seen_at);
        take(&mut self.preferred_style, newer.preferred_style);
        take(&mut self.price_sensitivity, newer.price_sensitivity);
        take(&mut self.preferred_brand, newer.preferred_brand);
        take(&mut self.preferred_channel, newer.preferred_channel);
        take(&mut self.max_messages_per_week, newer.max_messages_per_week);
        for c in newer.consents {
            match self.consents.iter_mut().find(|k| k.channel == c.channel) {
                Some(known) if known.recorded_at > c.recorded_at => {}
                Some(known) => *known = c,
                None => self.consents.push(c),
            }
        }
        for t in newer.tags {
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
    }

    /// The content hash a store keeps to recognise an unchanged re-import.
    pub fn fingerprint(&self) -> i64 {
        let mut f = Fingerprint::new();
        f.str(self.key.source.as_str()).str(&self.key.external_id);
        for s in [
            &self.name,
            &self.province,
            &self.city,
            &self.phone,
            &self.qq,
            &self.wechat,
        ] {
            f.opt_str(s.as_deref());
        }
        for s in [
            &self.credit_level,
            &self.source_channel,
            &self.preferred_style,
            &self.preferred_brand,
        ] {
            f.opt_str(s.as_deref());
        }
        f.opt_str(self.gender.map(Gender::as_str))
            .opt_str(self.birthday.map(|d| d.to_string()).as_deref())
            .opt_str(self.mobile.as_ref().map(|c| c.raw.as_str()))
            .opt_str(self.email.as_ref().map(|c| c.raw.as_str()))
            .opt_i64(self.first_seen_at.map(|t| t.timestamp_micros()))
            .opt_i64(self.price_sensitivity.map(i64::from))
            .opt_str(self.preferred_channel.map(Channel::as_str))
            .opt_i64(self.max_messages_per_week.map(i64::from));
        for c in &self.consents {
            f.str(c.channel.as_str())
                .str(c.state.as_str())
                .i64(c.recorded_at.timestamp_micros())
                .str(&c.evidence);
        }
        for t in &self.tags {
            f.str(t);
        }
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlay_replaces_what_it_knows_and_keeps_the_rest() {
        let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let key = CustomerKey {
            source: crate::Source::parse("shopify").unwrap(),
            external_id: "a@example.com".into(),
        };
        let consent = |state, s: i64| Consent {
            channel: Channel::Email,
            state,
            recorded_at: at(s),
            evidence: format!("at {s}"),
        };
        let mut known = Customer::bare(key.clone());
        known.name = Some("Old".into());
        known.birthday = NaiveDate::from_ymd_opt(1990, 5, 1);
        known.tags = vec!["vip".into()];
        known.consents = vec![consent(ConsentState::Denied, 100)];
        let mut newer = Customer::bare(key);
        newer.name = Some("New".into());
        newer.city = Some("杭州市".into());
        newer.tags = vec!["vip".into(), "webhook".into()];
        // An older grant does not undo a later refusal.
        newer.consents = vec![consent(ConsentState::Granted, 50)];
        known.overlay(newer.clone());
        assert_eq!(known.name.as_deref(), Some("New"));
        assert_eq!(known.city.as_deref(), Some("杭州市"));
        assert_eq!(known.birthday, NaiveDate::from_ymd_opt(1990, 5, 1));
        assert_eq!(known.tags, ["vip", "webhook"]);
        assert_eq!(known.consents, [consent(ConsentState::Denied, 100)]);
        // A newer one does.
        newer.consents = vec![consent(ConsentState::Granted, 200)];
        known.overlay(newer);
        assert_eq!(known.consents, [consent(ConsentState::Granted, 200)]);
    }
}
