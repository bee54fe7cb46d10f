//! The customers CSV: contacts, birthday, region, preferences, consent per channel, tags.

use guanxi_domain::{Channel, Consent, ConsentState, Contact, Customer, CustomerKey, Gender};

use super::{Context, RecordFormat};
use crate::problem::Problem;
use crate::table::{Columns, Header, Row, fields};

pub(crate) const COLUMNS: [&str; 24] = [
    "customer_id",
    "name",
    "gender",
    "birthday",
    "province",
    "city",
    "phone",
    "mobile",
    "email",
    "qq",
    "wechat",
    "credit_level",
    "source_channel",
    "first_seen_at",
    "preferred_style",
    "price_sensitivity",
    "preferred_brand",
    "preferred_channel",
    "max_messages_per_week",
    "tags",
    "consent_sms",
    "consent_email",
    "consent_wechat",
    "consent_at",
];

#[derive(Default)]
pub(crate) struct Customers {
    cols: Option<Columns<24>>,
}

fn gender(s: &str) -> Result<Gender, String> {
    match s.to_lowercase().as_str() {
        "f" | "female" | "女" => Ok(Gender::Female),
        "m" | "male" | "男" => Ok(Gender::Male),
        "unknown" | "未知" => Ok(Gender::Unknown),
        _ => Err(format!("expected female, male or unknown (女/男/未知), found {s:?}")),
    }
}

fn consent(s: &str) -> Result<ConsentState, String> {
    match s.to_lowercase().as_str() {
        "granted" | "yes" | "y" | "true" | "1" | "同意" => Ok(ConsentState::Granted),
        "denied" | "no" | "n" | "false" | "0" | "拒绝" | "退订" => Ok(ConsentState::Denied),
        "unknown" => Ok(ConsentState::Unknown),
        _ => Err(format!("expected granted or denied (yes/no, 同意/拒绝), found {s:?}")),
    }
}

fn small<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|_| format!("expected {what}, found {s:?}"))
}

impl RecordFormat for Customers {
    type Record = Customer;

    fn header(&mut self, row: &Row<'_>) -> Result<(), Problem> {
        let header = Header::read(row)?;
        if super::shopify_customers::recognises(&header) {
            return Err(row.at.line(
                "this is Shopify's customers export: import it with --format shopify (this format is guanxi's customers CSV)",
            ));
        }
        header.reject_unknown(&row.at, &COLUMNS)?;
        self.cols = Some(header.columns(&row.at, &["customer_id"], COLUMNS)?);
        Ok(())
    }

    fn row(&mut self, row: &Row<'_>, cx: &Context) -> Result<Customer, Problem> {
        let f = fields(self.cols.as_ref(), row)?;
        let mut c = Customer::bare(CustomerKey {
            source: cx.source.clone(),
            external_id: f.req(0)?.into_owned(),
        });
        c.name = f.opt_string(1)?;
        c.gender = f.parse(2, gender)?;
        c.birthday = f.date(3)?;
        c.province = f.opt_string(4)?;
        c.city = f.opt_string(5)?;
        c.phone = f.opt_string(6)?;
        c.mobile = f.opt(7)?.map(|m| Contact::mobile(&m));
        c.email = f.opt(8)?.map(|m| Contact::email(&m));
        c.qq = f.opt_string(9)?;
        c.wechat = f.opt_string(10)?;
        c.credit_level = f.opt_string(11)?;
        c.source_channel = f.opt_string(12)?;
        c.first_seen_at = f.time(13, cx.tz)?;
        c.preferred_style = f.opt_string(14)?;
        c.price_sensitivity = f.parse(15, |s| {
            small::<u8>(s, "a price sensitivity from 1 to 5").and_then(|v| {
                if (1..=5).contains(&v) {
                    Ok(v)
                } else {
                    Err(format!("expected 1 to 5, found {v}"))
                }
            })
        })?;
        c.preferred_brand = f.opt_string(16)?;
        c.preferred_channel = f.parse(17, |s| Channel::parse(&s.to_lowercase()))?;
        c.max_messages_per_week = f.parse(18, |s| small::<u16>(s, "a whole number of messages per week"))?;
        c.tags = super::tags(f.opt(19)?.as_deref(), &[';', '|']);
        let consent_at = f.time(23, cx.tz)?;
        for (col, channel) in [(20, Channel::Sms), (21, Channel::Email), (22, Channel::Wechat)] {
            if let Some(state) = f.parse(col, consent)? {
                // Consent without a time is no evidence: say when it was given.
                let recorded_at =
                    consent_at.ok_or_else(|| f.problem(23, "a time is required when consent is given"))?;
                c.consents.push(Consent {
                    channel,
                    state,
                    recorded_at,
                    evidence: "customers import".into(),
                });
            }
        }
        Ok(c)
    }

    fn id(record: &Customer) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&record.key.external_id)
    }
}
