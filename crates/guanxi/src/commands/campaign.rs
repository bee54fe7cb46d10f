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
            let (settings, _) = super::config::load(global)?;
            let templates = super::program::templates(&settings)?;
            let known = guanxi_app::campaigns::Known {
                templates: &templates,
                coupons: &settings.coupons,
            };
            let c = guanxi_app::campaigns::create(store, &text, known, &by, Utc::now())
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
            let l = guanxi_app::campaigns::launch(store, o.tz, &name, &by, Utc::now()).await?;
            report(global.json, &l, |l| {
                sizing_text(&format!("launched {}\n", l.campaign), l)
            })
        }
        CampaignCommand::Preview { name } => {
            let l = guanxi_app::campaigns::preview(store, o.tz, &name, Utc::now()).await?;
            report(global.json, &l, |l| {
                sizing_text(&format!("{} as it would launch now\n", l.campaign), l)
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
        CampaignCommand::Report { name } => {
            let e = guanxi_app::campaigns::report(store, o.tz, &name, Utc::now()).await?;
            let tz = o.tz;
            report(global.json, &e, |e| effect_text(e, tz))
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

/// Each audience's arms and the lift they can detect.
fn sizing_text(head: &str, l: &guanxi_app::campaigns::Launched) -> String {
    let mut text = head.to_string();
    for a in &l.audiences {
        let variants: Vec<String> = a.variants.iter().map(|(n, c)| format!("{n} {c}")).collect();
        text += &format!(
            "  {}: {} members, {} held out; {}\n",
            a.name,
            a.members,
            a.held_out,
            variants.join(", ")
        );
        text += &match a.detectable_lift {
            Some(lift) => format!(
                "    {:.1} % bought in the same window a year before; this split can detect a lift of ≥ {:.1} points\n",
                100.0 * a.base_rate,
                100.0 * lift
            ),
            None => "    no holdout: no lift can be measured\n".into(),
        };
    }
    text
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

fn effect_text(e: &guanxi_app::campaigns::Effect, tz: guanxi_domain::ShopTz) -> String {
    use guanxi_web::Lang;
    use guanxi_web::campaigns::{interval, verdict, who};
    let mut text = format!(
        "{}: orders paid {} to {}{}\n",
        e.campaign,
        e.from.with_timezone(&tz.0).format("%Y-%m-%d"),
        e.to.with_timezone(&tz.0).format("%Y-%m-%d"),
        if e.complete {
            ""
        } else {
            " (not over yet: figures so far)"
        }
    );
    for r in &e.rows {
        let rate = |converted: u64, size: u64| {
            if size == 0 {
                0.0
            } else {
                100.0 * converted as f64 / size as f64
            }
        };
        text += &format!(
            "  {}: treated {} ({} delivered, {} clicked, {:.1} % bought), held out {} ({:.1} % bought)\n    conversion lift {} points; relative {} %; profit per head {} yuan (CUPED; {} without)\n    incremental profit {} yuan; cost {}; ROI {} %{}\n    {}\n",
            who(Lang::En, r),
            r.treated.size,
            r.treated.delivered,
            r.treated.clicked,
            rate(r.treated.converted, r.treated.size),
            r.control.size,
            rate(r.control.converted, r.control.size),
            interval(r.conversion_lift, 100.0),
            interval(r.relative_lift, 100.0),
            interval(r.profit_lift, 0.01),
            interval(r.profit_lift_unadjusted, 0.01),
            interval(r.incremental_profit, 0.01),
            guanxi_web::format::yuan(r.treated.cost + r.control.cost),
            interval(r.roi, 100.0),
            match r.srm {
                Some(s) if s.flagged => format!(
                    "\n    SAMPLE RATIO MISMATCH (p = {:.1e}): the split is not as designed; trust no figure above",
                    s.p
                ),
                _ => String::new(),
            },
            verdict(Lang::En, r),
        );
    }
    text
}
