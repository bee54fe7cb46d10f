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

fn audited(by: &Actor, at: DateTime<Utc>) -> Audited {
    Audited {
        at,
        actor: by.name.clone(),
        action: String::new(),
        subject: String::new(),
        detail: String::new(),
        origin: by.origin.clone(),
    }
}

/// A stored campaign's plan, read back.
fn plan_of(c: &StoredCampaign) -> Result<Plan> {
    Plan::parse(&c.plan)
        .map_err(|e| AppError::Store(guanxi_store::StoreError::Corrupt(format!("campaign {}: {e}", c.name))))
}

/// Creates a campaign from its plan (TOML): every field checked, each audience's
/// segment resolved now (so that a misspelt segment is found before launch), a random
/// seed fixed for its draws; audited.
pub async fn create(store: &dyn Store, text: &str, by: &Actor, now: DateTime<Utc>) -> Result<StoredCampaign> {
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
    let mut segments = Vec::with_capacity(plan.audiences.len());
    for (i, a) in plan.audiences.iter().enumerate() {
        let field = format!("audiences[{i}].segment");
        let mut ids = Vec::new();
        let mut after = 0;
        loop {
            let page = crate::segments::members(store, &a.segment, &field, after, PAGE).await?;
            ids.extend(page.members.iter().map(|m| m.id));
            match page.next_after {
                Some(next) => after = next,
                None => break,
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
