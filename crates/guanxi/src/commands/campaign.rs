//! `guanxi campaign …`: campaigns with holdouts — create from a plan, launch, list, and
//! the members a launch chose with why.

use chrono::Utc;

use crate::cli::{CampaignCommand, Global};
use crate::commands::customer::actor;
use crate::commands::default_db;
use crate::open::open;
use crate::output::report;
use guanxi_app::access::Actor;

pub async fn run(global: &Global, cmd: CampaignCommand) -> anyhow::Result<()> {
    let o = open(global, default_db()).await?;
    let store = o.store.as_ref();
    match cmd {
        CampaignCommand::Create { plan, actor: who } => {
            let text = std::fs::read_to_string(&plan)
                .map_err(|e| anyhow::anyhow!("{}: cannot read the plan: {e}", plan.display()))?;
            let by = Actor {
                name: actor(who),
                origin: "cli".into(),
            };
            let c = guanxi_app::campaigns::create(store, &text, &by, Utc::now())
                .await
                .map_err(|e| located(&plan, e))?;
            report(global.json, &c, |c| {
                format!(
                    "created campaign {} (#{}); launch it with guanxi campaign launch {}\n",
                    c.name, c.id, c.name
                )
            })
        }
        CampaignCommand::Launch { name, actor: who } => {
            let by = Actor {
                name: actor(who),
                origin: "cli".into(),
            };
            let l = guanxi_app::campaigns::launch(store, &name, &by, Utc::now()).await?;
            report(global.json, &l, |l| {
                let mut text = format!("launched {}\n", l.campaign);
                for a in &l.audiences {
                    let variants: Vec<String> = a.variants.iter().map(|(n, c)| format!("{n} {c}")).collect();
                    text += &format!(
                        "  {}: {} members, {} held out; {}\n",
                        a.name,
                        a.members,
                        a.held_out,
                        variants.join(", ")
                    );
                }
                text
            })
        }
        CampaignCommand::List => {
            let all = guanxi_app::campaigns::list(store).await?;
            let tz = o.tz;
            report(global.json, &all, |all| {
                if all.is_empty() {
                    return "no campaigns (guanxi campaign create PLAN.toml)\n".into();
                }
                all.iter()
                    .map(|c| {
                        let state = match c.launched_at {
                            Some(at) => format!(
                                "launched {} with {} members",
                                at.with_timezone(&tz.0).format("%Y-%m-%d %H:%M"),
                                c.members
                            ),
                            None => "not launched".into(),
                        };
                        format!("{}  {}  created by {}\n", c.name, state, c.created_by)
                    })
                    .collect()
            })
        }
        CampaignCommand::Members { name, after, limit } => {
            let members = guanxi_app::campaigns::members(store, &name, after, limit).await?;
            report(global.json, &members, |members| {
                members
                    .iter()
                    .map(|m| format!("#{}  {}\n", m.customer_id, m.reason))
                    .collect()
            })
        }
    }
}

/// A plan's error with the file it came from in front (`plan.toml: waves: …`).
fn located(plan: &std::path::Path, e: guanxi_app::AppError) -> anyhow::Error {
    match e {
        guanxi_app::AppError::BadInput { code, message } => guanxi_app::AppError::BadInput {
            code,
            message: format!("{}: {message}", plan.display()),
        }
        .into(),
        e => e.into(),
    }
}
