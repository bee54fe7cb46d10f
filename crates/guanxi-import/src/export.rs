//! Writing guanxi's own CSV formats: the generic orders CSV (one row per line) and the
//! customers, service records and reviews CSVs — exactly what the importers read, so an
//! export imports back to the same records.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use guanxi_domain::{Cents, ConsentState, Customer, Order, Review, ServiceRecord};

use crate::formats::{customers, generic, reviews, service};

fn t(v: Option<DateTime<Utc>>) -> String {
    v.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn c(v: Cents) -> String {
    v.to_string()
}

/// A CSV writer for one of guanxi's formats; writes the header first.
pub struct CsvExport<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> CsvExport<W> {
    fn new(w: W, header: &[&str]) -> csv::Result<Self> {
        let mut writer = csv::Writer::from_writer(w);
        writer.write_record(header)?;
        Ok(CsvExport { writer })
    }

    pub fn orders(w: W) -> csv::Result<Self> {
        Self::new(w, &generic::COLUMNS)
    }

    pub fn customers(w: W) -> csv::Result<Self> {
        Self::new(w, &customers::COLUMNS)
    }

    pub fn service(w: W) -> csv::Result<Self> {
        Self::new(w, &service::COLUMNS)
    }

    pub fn reviews(w: W) -> csv::Result<Self> {
        Self::new(w, &reviews::COLUMNS)
    }

    /// One row per line, in the column order of `generic::COLUMNS`.
    pub fn order(&mut self, o: &Order) -> csv::Result<()> {
        let tm = &o.times;
        for l in &o.lines {
            self.writer.write_record([
                o.key.external_id.as_str(),
                // Empty for a guest order, which reads back as one.
                o.customer.as_ref().map_or("", |c| c.external_id.as_str()),
                &t(Some(o.created_at)),
                &c(l.amount),
                &t(tm.paid_at),
                o.status.as_str(),
                &l.cost.map(c).unwrap_or_default(),
                &c(l.discount),
                &c(o.shipping_fee),
                s(&l.category),
                s(&l.sku),
                s(&l.title),
                &l.quantity.to_string(),
                s(&o.province),
                s(&o.city),
                s(&o.coupon),
                s(&o.campaign),
                &c(l.refund),
                &t(tm.shipped_at),
                &t(tm.arrived_at),
                &t(tm.signed_at),
                &t(tm.completed_at),
                &t(tm.closed_at),
                &t(tm.refunded_at),
                s(&o.currency),
            ])?;
        }
        Ok(())
    }

    pub fn customer(&mut self, x: &Customer) -> csv::Result<()> {
        let consent = |ch| {
            x.consents
                .iter()
                .find(|c| c.channel == ch)
                .map(|c| c.state)
                .filter(|s| *s != ConsentState::Unknown)
        };
        let consent_at = x.consents.iter().map(|c| c.recorded_at).max();
        use guanxi_domain::Channel::*;
        self.writer.write_record([
            x.key.external_id.as_str(),
            s(&x.name),
            x.gender.map(|g| g.as_str()).unwrap_or(""),
            &x.birthday.map(|d| d.to_string()).unwrap_or_default(),
            s(&x.province),
            s(&x.city),
            s(&x.phone),
            x.mobile.as_ref().map(|m| m.raw.as_str()).unwrap_or(""),
            x.email.as_ref().map(|m| m.raw.as_str()).unwrap_or(""),
            s(&x.qq),
            s(&x.wechat),
            s(&x.credit_level),
            s(&x.source_channel),
            &t(x.first_seen_at),
            s(&x.preferred_style),
            &x.price_sensitivity.map(|v| v.to_string()).unwrap_or_default(),
            s(&x.preferred_brand),
            x.preferred_channel.map(|c| c.as_str()).unwrap_or(""),
            &x.max_messages_per_week.map(|v| v.to_string()).unwrap_or_default(),
            &x.tags.join(";"),
            consent(Sms).map(|s| s.as_str()).unwrap_or(""),
            consent(Email).map(|s| s.as_str()).unwrap_or(""),
            consent(Wechat).map(|s| s.as_str()).unwrap_or(""),
            &t(consent_at),
        ])
    }

    pub fn service_record(&mut self, r: &ServiceRecord) -> csv::Result<()> {
        self.writer.write_record([
            r.external_id.as_str(),
            &r.customer.external_id,
            s(&r.order_external_id),
            r.kind.as_str(),
            r.status.as_str(),
            &t(Some(r.opened_at)),
            &t(r.closed_at),
            &r.satisfaction.map(|v| v.get().to_string()).unwrap_or_default(),
            &c(r.cost),
            s(&r.note),
        ])
    }

    pub fn review(&mut self, r: &Review) -> csv::Result<()> {
        let rating = |v: Option<guanxi_domain::Rating>| v.map(|v| v.get().to_string()).unwrap_or_default();
        self.writer.write_record([
            r.external_id.as_str(),
            &r.customer.external_id,
            s(&r.order_external_id),
            &rating(r.item_rating),
            &rating(r.service_rating),
            &rating(r.logistics_rating),
            s(&r.text),
            &t(Some(r.created_at)),
        ])
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.writer.flush()?;
        self.writer.into_inner().map_err(|e| e.into_error())
    }
}
