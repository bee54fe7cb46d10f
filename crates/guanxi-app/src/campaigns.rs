//! Campaigns (issue 16): a plan created from TOML, launched once — each audience's
//! saved segment resolved in the current build, every member drawn into a variant or
//! the holdout by the campaign's seed and snapshotted with why — and listed. The CLI's
//! `guanxi campaign`, and later the pages and the API, call these.

use chrono::{DateTime, Utc};
use guanxi_domain::campaign::{Assigned, Plan};
use guanxi_store::{Audited, CampaignMember, Store, StoredCampaign};
use serde::Serialize;

use crate::AppError;
use crate::access::Actor;
use crate::error::Result;

fn bad(code: &'static str, message: String) -> AppError {
    AppError::BadInput { code, message }
}

/// Who acts and when; the store names the action and its subject.
fn audited(by: &Actor, at: DateTime<Utc>) -> Audited {
    by.audited(at, "", String::new(), String::new())
}

/// A stored campaign's plan, read back.
fn plan_of(c: &StoredCampaign) -> Result<Plan> {
    Plan::parse(&c.plan)
        .map_err(|e| AppError::Store(guanxi_store::StoreError::Corrupt(format!("campaign {}: {e}", c.name))))
}

/// The most a plan may weigh (bytes): it is kept whole with the campaign.
pub const MAX_PLAN: usize = 64 * 1024;

/// Creates a campaign from its plan (TOML): every field checked, each audience's
/// segment resolved now (so that a misspelt segment is found before launch), a random
/// seed fixed for its draws; audited.
pub async fn create(store: &dyn Store, text: &str, by: &Actor, now: DateTime<Utc>) -> Result<StoredCampaign> {
    if text.len() > MAX_PLAN {
        return Err(bad(
            "campaign_invalid",
            format!("plan: expected at most {MAX_PLAN} bytes, found {}", text.len()),
        ));
    }
    let plan = Plan::parse(text).map_err(|e| bad("campaign_invalid", e.to_string()))?;
    for (i, a) in plan.audiences.iter().enumerate() {
        crate::segments::resolve(store, &a.segment, &format!("audiences[{i}].segment")).await?;
    }
    let seed = {
        use rand::RngCore as _;
        rand::rng().next_u64()
    };
    Ok(store.create_campaign(&plan.name, text, seed, &audited(by, now)).await?)
}

/// Every campaign, the newest first.
pub async fn list(store: &dyn Store) -> Result<Vec<StoredCampaign>> {
    Ok(store.campaigns().await?)
}

async fn find(store: &dyn Store, name: &str) -> Result<StoredCampaign> {
    store.campaign(name).await?.ok_or_else(|| {
        bad(
            "campaign_unknown",
            format!("name: no campaign named {name:?} (guanxi campaign list)"),
        )
    })
}

/// One audience at launch.
#[derive(Debug, Clone, Serialize)]
pub struct LaunchedAudience {
    pub name: String,
    pub members: u64,
    pub held_out: u64,
    /// Members per variant, in the plan's order.
    pub variants: Vec<(String, u64)>,
}

/// What a launch snapshotted.
#[derive(Debug, Clone, Serialize)]
pub struct Launched {
    pub campaign: String,
    pub at: DateTime<Utc>,
    pub audiences: Vec<LaunchedAudience>,
}

/// The most members one page of a segment gives a launch at a time.
const PAGE: u32 = 10_000;

/// Launches campaign `name`: each audience's segment resolved in the current build (all
/// its members, a page at a time), each customer kept in the first audience that holds
/// them, drawn by the campaign's seed, and the whole snapshot stored at once with the
/// reasons; audited. A campaign is launched once.
pub async fn launch(store: &dyn Store, name: &str, by: &Actor, now: DateTime<Utc>) -> Result<Launched> {
    let stored = find(store, name).await?;
    if stored.launched_at.is_some() {
        return Err(bad(
            "campaign_launched",
            format!("name: campaign {name:?} was launched already; its members stay as launched"),
        ));
    }
    let plan = plan_of(&stored)?;
    let campaign = plan.campaign(stored.seed);
    let as_of = crate::profiles::current_build(store).await?.as_of;
    let mut segments = Vec::with_capacity(plan.audiences.len());
    for (i, a) in plan.audiences.iter().enumerate() {
        // Resolved once, then paged in the one build (not re-resolved per page).
        let resolved = crate::segments::resolve(store, &a.segment, &format!("audiences[{i}].segment")).await?;
        let mut ids = Vec::new();
        loop {
            let page = store
                .segment_members(&resolved.expr, as_of, ids.last().copied().unwrap_or(0), PAGE)
                .await?;
            let full = page.len() as u32 == PAGE;
            ids.extend(page.iter().map(|m| m.id));
            if !full {
                break;
            }
        }
        segments.push(ids);
    }
    let members = campaign.assign(&segments);
    let stored_members: Vec<CampaignMember> = members
        .iter()
        .map(|m| CampaignMember {
            customer_id: m.customer,
            audience: m.audience as u32,
            variant: match m.assigned {
                Assigned::Holdout => None,
                Assigned::Variant(v) => Some(v as u32),
            },
            reason: m.reason.clone(),
        })
        .collect();
    store
        .launch_campaign(stored.id, &stored_members, &audited(by, now))
        .await?;
    let audiences = campaign
        .audiences
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let of = members.iter().filter(|m| m.audience == i);
            LaunchedAudience {
                name: a.name.clone(),
                members: of.clone().count() as u64,
                held_out: of.clone().filter(|m| m.assigned == Assigned::Holdout).count() as u64,
                variants: a
                    .variants
                    .iter()
                    .enumerate()
                    .map(|(v, variant)| {
                        (
                            variant.name.clone(),
                            of.clone().filter(|m| m.assigned == Assigned::Variant(v)).count() as u64,
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(Launched {
        campaign: stored.name,
        at: now,
        audiences,
    })
}

/// The most members one call lists.
pub const MAX_LISTED: u32 = 10_000;

/// Members of campaign `name` as launched, after customer `after`, at most `limit`.
pub async fn members(store: &dyn Store, name: &str, after: i64, limit: u32) -> Result<Vec<CampaignMember>> {
    let c = find(store, name).await?;
    Ok(store.campaign_members(c.id, after, limit.clamp(1, MAX_LISTED)).await?)
}

/// A campaign's effect as measured so far.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    pub campaign: String,
    /// Orders paid in `[from, to)` count: from the first wave's day to the attribution
    /// window after the last wave's day, or to the goal window's end when that is later.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `to` has passed: the figures are final.
    pub complete: bool,
    pub rows: Vec<guanxi_domain::campaign::Row>,
}

/// The effect of launched campaign `name`: each member's outcome (treated or held out,
/// measured alike: paid orders in the window, revenue and profit net of refunds and
/// cost of goods, profit in the 365 days before launch or the first wave), then
/// [`guanxi_domain::campaign::report`].
pub async fn report(store: &dyn Store, tz: guanxi_domain::ShopTz, name: &str, now: DateTime<Utc>) -> Result<Effect> {
    let stored = find(store, name).await?;
    let Some(launched) = stored.launched_at else {
        return Err(AppError::Missing {
            code: "campaign_not_launched",
            message: format!("campaign {name:?} is not launched yet: guanxi campaign launch {name}"),
        });
    };
    let plan = plan_of(&stored)?;
    let day = |d: chrono::NaiveDate| {
        tz.start_of(d).ok_or_else(|| {
            bad(
                "campaign_invalid",
                format!("starts: {d} has no start in the shop's time zone"),
            )
        })
    };
    let first = plan.starts + chrono::Duration::days(i64::from(plan.waves[0]));
    let last = plan.starts + chrono::Duration::days(i64::from(*plan.waves.last().unwrap_or(&0)));
    let from = day(first)?;
    let to = day(last)? + chrono::Duration::days(1 + i64::from(plan.attribution_days));
    let to = to.max(day(plan.ends)? + chrono::Duration::days(1));
    // Every member, a page at a time.
    let mut members = Vec::new();
    let mut after = 0;
    loop {
        let page = store.campaign_members(stored.id, after, MAX_LISTED).await?;
        let Some(last) = page.last() else { break };
        after = last.customer_id;
        let full = page.len() as u32 == MAX_LISTED;
        members.extend(page);
        if !full {
            break;
        }
    }
    let sums = |orders: Vec<guanxi_store::CampaignOrder>| {
        let mut by: std::collections::HashMap<i64, (bool, i64, i64)> = Default::default();
        for o in orders {
            let e = by.entry(o.customer_id).or_default();
            e.0 = true;
            e.1 += o.paid_cents - o.refund_cents;
            e.2 += o.paid_cents - o.refund_cents - o.cost_cents;
        }
        by
    };
    let during = sums(store.campaign_orders(stored.id, from, to).await?);
    // The covariate must predate any effect: the year before the launch or the first
    // wave, whichever came first.
    let cut = launched.min(from);
    let before = sums(
        store
            .campaign_orders(stored.id, cut - chrono::Duration::days(365), cut)
            .await?,
    );
    let outcomes: Vec<guanxi_domain::campaign::Outcome> = members
        .iter()
        .map(|m| {
            let (converted, revenue, profit) = during.get(&m.customer_id).copied().unwrap_or_default();
            guanxi_domain::campaign::Outcome {
                audience: m.audience as usize,
                assigned: match m.variant {
                    None => Assigned::Holdout,
                    Some(v) => Assigned::Variant(v as usize),
                },
                // The waves' sends are not wired yet: nobody was reached by the campaign.
                delivered: false,
                clicked: false,
                converted,
                revenue,
                profit,
                profit_before: before.get(&m.customer_id).map_or(0, |b| b.2),
                cost: 0,
            }
        })
        .collect();
    let rows = guanxi_domain::campaign::report(&plan.campaign(stored.seed), &outcomes);
    Ok(Effect {
        campaign: stored.name,
        from,
        to,
        complete: now >= to,
        rows,
    })
}
