//! `guanxi customer show|duplicates|merge|unmerge`: one customer's record and profile with
//! the rule and figures behind each class; records of one person merged and unmerged.

use anyhow::Context as _;
use guanxi_app::customers::CustomerProfile;
use guanxi_domain::profile::ClassKind;
use guanxi_domain::{Customer, CustomerKey, Source};
use guanxi_store::tables::{self, ContactView};
use guanxi_store::{MergeProposal, Transition};
use serde::Serialize;

use crate::cli::{CustomerCommand, Global};
use crate::commands::{config, default_db};
use crate::open::{Opened, open};
use crate::output::{done, report};

#[derive(Serialize)]
struct Shown {
    id: i64,
    customer: Customer,
    /// The stored profile (or the one computed for --as-of); `None` before any build.
    profile: Option<CustomerProfile>,
    /// Class changes recorded by builds, oldest first.
    transitions: Vec<Transition>,
}

pub(crate) fn source(s: &str) -> anyhow::Result<Source> {
    Source::parse(s).map_err(|e| anyhow::anyhow!("--source: {e}"))
}

/// The internal id of a customer: of the person it belongs to when `person` (through
/// merges), else of the record itself.
pub(crate) async fn lookup(o: &Opened, id: &str, source: &Source, person: bool) -> anyhow::Result<i64> {
    let key = CustomerKey {
        source: source.clone(),
        external_id: id.to_string(),
    };
    let found = if person {
        o.store.customer_id(&key).await?
    } else {
        o.store.customer(&key).await?.map(|(id, _)| id)
    };
    found.with_context(|| {
        format!(
            "no customer {:?} in source {:?} (is --source right?)",
            key.external_id,
            key.source.as_str()
        )
    })
}

/// Writes the export page by page to a file beside `path`, renamed into place when
/// whole: a failed export leaves no half-written file. Returns the customers written.
async fn write_export(
    o: &Opened,
    export: &mut guanxi_app::exports::CustomersExport,
    path: &std::path::Path,
) -> anyhow::Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(tmp));
    w.write_record(tables::CUSTOMER_EXPORT_HEADER)?;
    while let Some(rows) = export.next_page(o.store.as_ref()).await? {
        for row in &rows {
            w.write_record(row)?;
        }
    }
    let tmp = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error()))?
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(export.written)
}

/// Who acts, for the audit trail: as given, else the login user.
pub(crate) fn actor(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into())
}

pub async fn run(global: &Global, cmd: CustomerCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    match cmd {
        CustomerCommand::Show { id, source: src, as_of } => {
            let src = source(&src)?;
            let pid = lookup(&o, &id, &src, true).await?;
            let customer = o.store.customer_by_id(pid).await?.context("the customer vanished")?;
            let profile = match as_of {
                Some(date) => {
                    let (settings, _) = config::load(global)?;
                    let build = guanxi_app::profiles::profiles(o.shop(), &settings, Some(&date)).await?;
                    build.profiles.into_iter().find(|p| p.customer_id == pid)
                }
                None => guanxi_app::customers::profile(o.shop(), pid).await?,
            };
            let transitions = o.store.customer_transitions(pid).await?;
            report(
                global.json,
                &Shown {
                    id: pid,
                    customer,
                    profile,
                    transitions,
                },
                text,
            )
        }
        CustomerCommand::Duplicates { limit } => {
            // The shop's own machine: the shared values are shown whole.
            let pairs = guanxi_app::customers::duplicates(o.store.as_ref(), limit, true).await?;
            report(global.json, &pairs, |p: &Vec<MergeProposal>| {
                let mut out = format!("{} pairs share a mobile number or email\n", p.len());
                for m in p {
                    out += &format!("  #{} #{}  same {} {}\n", m.a, m.b, m.via, m.value);
                }
                out
            })
        }
        CustomerCommand::Merge {
            kept,
            merged,
            source: src,
            actor: who,
        } => {
            let src = source(&src)?;
            // The records themselves, not the persons they belong to: the store says
            // plainly when one is already merged.
            let (k, m) = (
                lookup(&o, &kept, &src, false).await?,
                lookup(&o, &merged, &src, false).await?,
            );
            let by = guanxi_app::access::Actor {
                name: actor(who),
                origin: "cli".into(),
            };
            guanxi_app::customers::merge(o.store.as_ref(), k, m, &by).await?;
            done(
                global.json,
                format!(
                    "merged {merged} (#{m}) into {kept} (#{k}); rebuild the profiles to see them as one (guanxi profile build)"
                ),
                serde_json::json!({ "kept": k, "merged": m }),
            )
        }
        CustomerCommand::Export { segment, csv, masked } => {
            let r = match &segment {
                Some(asked) => Some(super::segment::resolve(&o, asked).await?),
                None => None,
            };
            let view = if masked { ContactView::Masked } else { ContactView::Full };
            let expression = r.as_ref().map(|r| r.text.clone());
            let mut export = guanxi_app::exports::customers(
                o.store.as_ref(),
                r.map(|r| r.expr),
                expression.as_deref(),
                view,
                &csv.display().to_string(),
                &guanxi_app::access::Actor::cli(),
            )
            .await?;
            let as_of = export.as_of();
            let written = write_export(&o, &mut export, &csv).await?;
            done(
                global.json,
                format!(
                    "wrote {written} customers{} to {}",
                    expression.as_deref().map(|e| format!(" of {e}")).unwrap_or_default(),
                    csv.display()
                ),
                serde_json::json!({ "customers": written, "file": csv, "expression": expression, "as_of": as_of }),
            )
        }
        CustomerCommand::Unmerge {
            merged,
            source: src,
            actor: who,
        } => {
            let m = lookup(&o, &merged, &source(&src)?, false).await?;
            let by = guanxi_app::access::Actor {
                name: actor(who),
                origin: "cli".into(),
            };
            let k = guanxi_app::customers::unmerge(o.store.as_ref(), m, &by).await?;
            done(
                global.json,
                format!("unmerged {merged} (#{m}) from #{k}"),
                serde_json::json!({ "kept": k, "merged": m }),
            )
        }
    }
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
    let Some(v) = &s.profile else {
        out += "  no profile yet: build the profiles (guanxi profile build)\n";
        return out;
    };
    let m = &v.measures;
    let money = |cents: guanxi_domain::Cents| format!("{:.2}", cents.0 as f64 / 100.0);
    if m.paid_orders > 0 {
        out += &format!(
            "  {} paid orders, paid {}, profit {}, last {} days ago\n",
            m.paid_orders,
            money(m.paid_amount),
            money(m.profit),
            m.recency_days.map_or("?".to_string(), |d| d.to_string())
        );
    } else {
        out += "  no paid order\n";
    }
    for kind in ClassKind::ALL.iter().filter(|k| k.explained_by_rule()) {
        if let Some((_, why)) = v.classes.explained(*kind) {
            out += &format!("  - {why}\n");
        }
    }
    if let Some(t) = &v.tier {
        out += &format!("  - {}\n", t.why);
    }
    if let Some(r) = &v.rfm {
        out += &format!("  - RFM {}{}{}: {}\n", r.r, r.f, r.m, r.why);
    }
    if v.upgrade_potential {
        out += "  - upgrade potential: spend in the last 180 days well above the previous 180 days'\n";
    }
    if let Some(f) = &v.forecast {
        out += &format!(
            "  - forecast: P(alive) {:.3}; {:.2} purchases expected in the next {} days; {}; if still active, the next purchase in about {:.0} days\n",
            f.p_alive,
            f.expected_purchases,
            f.horizon_days,
            match (f.expected_spend, f.clv) {
                (Some(spend), Some(clv)) => format!("{spend:.2} a purchase, CLV {clv:.2}"),
                _ => "no spend model".to_string(),
            },
            f.next_purchase_days
        );
    }
    for t in &s.transitions {
        out += &format!(
            "  {} {}: {} → {}\n",
            t.as_of.date_naive(),
            t.kind,
            t.from.as_deref().unwrap_or("(none)"),
            t.to.as_deref().unwrap_or("(none)")
        );
    }
    out
}
