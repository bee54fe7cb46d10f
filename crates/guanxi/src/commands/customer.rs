//! `guanxi customer show`: one customer's record and profile, with the rule and figures
//! behind each class.

use guanxi_analytics::CustomerProfile;
use guanxi_domain::{Customer, CustomerKey, Source};
use serde::Serialize;

use crate::cli::{CustomerCommand, Global};
use crate::commands::{config, default_db, profile};
use crate::open::open;
use crate::output::report;

#[derive(Serialize)]
struct Shown {
    id: i64,
    customer: Customer,
    /// `None` for customers without a paid order by the as-of date.
    profile: Option<CustomerProfile>,
}

pub async fn run(global: &Global, cmd: CustomerCommand) -> anyhow::Result<()> {
    let CustomerCommand::Show { id, source, as_of } = cmd;
    let source = Source::parse(&source).map_err(|e| anyhow::anyhow!("--source: {e}"))?;
    let (settings, _) = config::load(global)?;
    let o = open(global, default_db()).await?;
    let key = CustomerKey {
        source,
        external_id: id,
    };
    let Some((cid, customer)) = o.store.customer(&key).await? else {
        anyhow::bail!(
            "no customer {:?} in source {:?} (is --source right?)",
            key.external_id,
            key.source.as_str()
        );
    };
    let build = profile::profiles(&o, &settings, as_of.as_deref()).await?;
    let profile = build.profiles.into_iter().find(|p| p.customer_id == cid);
    report(
        global.json,
        &Shown {
            id: cid,
            customer,
            profile,
        },
        text,
    )
}

fn text(s: &Shown) -> String {
    let c = &s.customer;
    let mut out = format!(
        "{} ({}:{}, #{})\n",
        c.name.as_deref().unwrap_or("(no name)"),
        c.key.source,
        c.key.external_id,
        s.id
    );
    let flag = |valid: bool| if valid { "" } else { " (invalid)" };
    if let Some(m) = &c.mobile {
        out += &format!("  mobile {}{}\n", m.raw, flag(m.is_valid()));
    }
    if let Some(e) = &c.email {
        out += &format!("  email {}{}\n", e.raw, flag(e.is_valid()));
    }
    for consent in &c.consents {
        out += &format!(
            "  consent {} {} ({}, {})\n",
            consent.channel,
            consent.state,
            consent.recorded_at.date_naive(),
            consent.evidence
        );
    }
    if !c.tags.is_empty() {
        out += &format!("  tags {}\n", c.tags.join(", "));
    }
    let Some(p) = &s.profile else {
        out += "  no paid order: no profile\n";
        return out;
    };
    let m = &p.measures;
    out += &format!(
        "  {} paid orders, paid {}, profit {}, last {} days ago\n",
        m.paid_orders,
        m.paid_amount,
        m.profit,
        m.recency_days.unwrap_or_default()
    );
    let cl = &p.classes;
    let mut why = vec![cl.relationship.why.clone()];
    why.extend(cl.activity.as_ref().map(|e| e.why.clone()));
    why.extend(cl.lifecycle.as_ref().map(|e| e.why.clone()));
    why.extend(cl.quadrant.as_ref().map(|e| e.why.clone()));
    why.extend(cl.pricing.as_ref().map(|e| e.why.clone()));
    why.extend(p.tier.as_ref().map(|e| e.why.clone()));
    why.extend(p.rfm.as_ref().map(|r| format!("RFM {}{}{}: {}", r.r, r.f, r.m, r.why)));
    for w in why {
        out += &format!("  - {w}\n");
    }
    if p.upgrade_potential {
        out += "  - upgrade potential: spend in the last 180 days well above the previous 180 days'\n";
    }
    out
}
