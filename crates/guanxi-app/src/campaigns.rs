//! Campaigns (issue 16): a plan created from TOML, launched once — each audience's
//! saved segment resolved in the current build, every member drawn into a variant or
//! the holdout by the campaign's seed and snapshotted with why — and listed. The CLI's
//! `guanxi campaign`, and later the pages and the API, call these.

use chrono::{DateTime, Utc};
use guanxi_domain::campaign::{Assigned, Member, Plan, effect};
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
/// What the shop has that a plan may name: its message templates and its coupons.
#[derive(Clone, Copy)]
pub struct Known<'a> {
    pub templates: &'a guanxi_engage::templates::Templates,
    pub coupons: &'a guanxi_domain::coupon::Definitions,
}

/// Refuses a plan naming a template or a coupon the shop does not have (found at the
/// first wave, it would fail the campaign after launch).
fn check_names(plan: &Plan, known: Known<'_>) -> Result<()> {
    for (a, audience) in plan.audiences.iter().enumerate() {
        let variants = audience.variants.len().max(1);
        for v in 0..variants {
            let variant = plan.variant(a, v);
            let at = format!("audiences[{a}].variants[{v}]");
            for wave in 0..plan.waves.len() {
                let template = variant.template(wave, plan.waves.len());
                if !known.templates.has(&template) {
                    return Err(bad(
                        "campaign_invalid",
                        format!(
                            "{at}.templates: wave {} names the template {template:?}, which the shop does not have (the built-in ones and [channels] templates)",
                            wave + 1
                        ),
                    ));
                }
            }
            if let Some(c) = &variant.coupon {
                known
                    .coupons
                    .named(c)
                    .map_err(|why| bad("campaign_invalid", format!("{at}.coupon: {why}")))?;
            }
        }
    }
    Ok(())
}

pub async fn create(
    store: &dyn Store,
    text: &str,
    known: Known<'_>,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<StoredCampaign> {
    if text.len() > MAX_PLAN {
        return Err(bad(
            "campaign_invalid",
            format!("plan: expected at most {MAX_PLAN} bytes, found {}", text.len()),
        ));
    }
    let plan = Plan::parse(text).map_err(|e| bad("campaign_invalid", e.to_string()))?;
    check_names(&plan, known)?;
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

/// The error of a campaign name no campaign has.
pub fn unknown(name: &str) -> AppError {
    bad(
        "campaign_unknown",
        format!("name: no campaign named {name:?} (guanxi campaign list)"),
    )
}

async fn find(store: &dyn Store, name: &str) -> Result<StoredCampaign> {
    store.campaign(name).await?.ok_or_else(|| unknown(name))
}

/// One audience's size as drawn, and what it can show.
#[derive(Debug, Clone, Serialize)]
pub struct LaunchedAudience {
    pub name: String,
    pub members: u64,
    pub held_out: u64,
    /// Members per variant, in the plan's order.
    pub variants: Vec<(String, u64)>,
    /// The share of these members who paid for an order in the campaign's window a
    /// year before (up to now): the conversion rate to expect without the campaign.
    pub base_rate: f64,
    /// The smallest conversion lift (absolute, 0.02 = 2 points) this split detects with
    /// 80 % power at the 95 % level, given `base_rate`; `None` without a holdout.
    pub detectable_lift: Option<f64>,
}

/// What a launch snapshotted (or, before launch, would snapshot now).
#[derive(Debug, Clone, Serialize)]
pub struct Launched {
    pub campaign: String,
    pub at: DateTime<Utc>,
    pub audiences: Vec<LaunchedAudience>,
}

/// The most members one page of a segment gives a launch at a time.
const PAGE: u32 = 10_000;

/// The members of each audience's segment in the current build (all of them, a page at
/// a time; each segment resolved once and paged in the one build).
async fn segments(store: &dyn Store, plan: &Plan) -> Result<Vec<Vec<i64>>> {
    let as_of = crate::profiles::current_build(store).await?.as_of;
    let mut segments = Vec::with_capacity(plan.audiences.len());
    for (i, a) in plan.audiences.iter().enumerate() {
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
    Ok(segments)
}

/// The campaign's window: from its first wave's day to the attribution window after
/// its last, or to the goal window's end when that is later.
fn window(plan: &Plan, tz: guanxi_domain::ShopTz) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let attribution = chrono::Duration::days(1 + i64::from(plan.attribution_days));
    let from = start(tz, plan.wave_day(0))?;
    let to = (start(tz, plan.wave_day(plan.waves.len() - 1))? + attribution)
        .max(start(tz, plan.ends)? + chrono::Duration::days(1));
    Ok((from, to))
}

/// Each audience's arms as drawn, its base rate (paid orders in the campaign's window a
/// year before: the same season) and the lift it can detect.
async fn sizing(
    store: &dyn Store,
    plan: &Plan,
    members: &[Member],
    tz: guanxi_domain::ShopTz,
    now: DateTime<Utc>,
) -> Result<Vec<LaunchedAudience>> {
    let (from, to) = window(plan, tz)?;
    let year = chrono::Duration::days(365);
    let (from, to) = (from - year, (to - year).min(now));
    let ids: Vec<i64> = members.iter().map(|m| m.customer).collect();
    let bought: std::collections::HashSet<i64> = store
        .paid_since(&ids, from)
        .await?
        .into_iter()
        .filter(|(_, at)| *at < to)
        .map(|(c, _)| c)
        .collect();
    // The audiences with their default variant filled in (the seed plays no part here).
    let campaign = plan.campaign(0);
    Ok(campaign
        .audiences
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let of: Vec<&Member> = members.iter().filter(|m| m.audience == i).collect();
            let held_out = of.iter().filter(|m| m.assigned == Assigned::Holdout).count() as u64;
            let size = of.len() as u64;
            let base_rate = if of.is_empty() {
                0.0
            } else {
                of.iter().filter(|m| bought.contains(&m.customer)).count() as f64 / size as f64
            };
            LaunchedAudience {
                name: a.name.clone(),
                members: size,
                held_out,
                variants: a
                    .variants
                    .iter()
                    .enumerate()
                    .map(|(v, variant)| {
                        (
                            variant.name.clone(),
                            of.iter().filter(|m| m.assigned == Assigned::Variant(v)).count() as u64,
                        )
                    })
                    .collect(),
                base_rate,
                detectable_lift: effect::minimum_detectable_lift(size - held_out, held_out, base_rate),
            }
        })
        .collect())
}

/// Campaign `name` as it would launch now: each audience's members in the current
/// build, drawn by its seed (the draw is the launch's), their base rate and the lift
/// the split can detect — what a marketer checks before launching.
pub async fn preview(store: &dyn Store, tz: guanxi_domain::ShopTz, name: &str, now: DateTime<Utc>) -> Result<Launched> {
    let stored = find(store, name).await?;
    let plan = plan_of(&stored)?;
    let members = plan.campaign(stored.seed).assign(&segments(store, &plan).await?);
    Ok(Launched {
        campaign: stored.name,
        at: now,
        audiences: sizing(store, &plan, &members, tz, now).await?,
    })
}

/// Launches campaign `name`: each audience's segment resolved in the current build (all
/// its members, a page at a time), each customer kept in the first audience that holds
/// them, drawn by the campaign's seed, and the whole snapshot stored at once with the
/// reasons; audited. A campaign is launched once.
pub async fn launch(
    store: &dyn Store,
    tz: guanxi_domain::ShopTz,
    name: &str,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<Launched> {
    let stored = find(store, name).await?;
    if stored.launched_at.is_some() {
        return Err(bad(
            "campaign_launched",
            format!("name: campaign {name:?} was launched already; its members stay as launched"),
        ));
    }
    let plan = plan_of(&stored)?;
    let members = plan.campaign(stored.seed).assign(&segments(store, &plan).await?);
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
    Ok(Launched {
        campaign: stored.name,
        at: now,
        audiences: sizing(store, &plan, &members, tz, now).await?,
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
    /// The campaign's waves together (per audience, per variant, in total), then each
    /// wave that has gone out (`wave` set), measured over the attribution window after
    /// its day.
    pub rows: Vec<guanxi_domain::campaign::Row>,
}

/// The start of shop day `d`.
fn start(tz: guanxi_domain::ShopTz, d: chrono::NaiveDate) -> Result<DateTime<Utc>> {
    tz.start_of(d).ok_or_else(|| {
        bad(
            "campaign_invalid",
            format!("waves: {d} has no start in the shop's time zone"),
        )
    })
}

/// One member's paid orders net of refunds: (converted, revenue, profit) in `[from, to)`.
fn sums(orders: &[guanxi_store::CampaignOrder], from: DateTime<Utc>, to: DateTime<Utc>) -> (bool, i64, i64) {
    orders
        .iter()
        .filter(|o| o.paid_at >= from && o.paid_at < to)
        .fold((false, 0, 0), |(_, r, p), o| {
            let net = o.paid_cents - o.refund_cents;
            (true, r + net, p + net - o.cost_cents)
        })
}

/// The effect of launched campaign `name`: each member's outcome (treated or held out,
/// measured alike: paid orders in the window, revenue and profit net of refunds and
/// cost of goods, profit in the 365 days before launch or the first wave), what its
/// waves delivered and cost, then [`guanxi_domain::campaign::report`] — for the waves
/// together and for each wave.
pub async fn report(store: &dyn Store, tz: guanxi_domain::ShopTz, name: &str, now: DateTime<Utc>) -> Result<Effect> {
    use guanxi_domain::campaign::Outcome;
    use std::collections::HashMap;

    let stored = find(store, name).await?;
    let Some(launched) = stored.launched_at else {
        return Err(AppError::Missing {
            code: "campaign_not_launched",
            message: format!("campaign {name:?} is not launched yet: guanxi campaign launch {name}"),
        });
    };
    let plan = plan_of(&stored)?;
    let attribution = chrono::Duration::days(1 + i64::from(plan.attribution_days));
    let (from, to) = window(&plan, tz)?;
    let members = store.all_campaign_members(stored.id).await?;
    let by_member = |orders: Vec<guanxi_store::CampaignOrder>| {
        let mut by: HashMap<i64, Vec<guanxi_store::CampaignOrder>> = HashMap::new();
        for o in orders {
            by.entry(o.customer_id).or_default().push(o);
        }
        by
    };
    let during = by_member(store.campaign_orders(stored.id, from, to).await?);
    // The covariate must predate any effect: the year before the launch or the first
    // wave, whichever came first.
    let cut = launched.min(from);
    let before = by_member(
        store
            .campaign_orders(stored.id, cut - chrono::Duration::days(365), cut)
            .await?,
    );
    // What each wave did for each member: (held, delivered, clicked).
    let mut touched: HashMap<(i64, usize), (bool, bool, bool)> = HashMap::new();
    for t in store.campaign_touches(&stored.name).await? {
        if let Some(wave) = plan.wave_of(&t.step) {
            touched.insert((t.customer_id, wave), (t.held, t.delivered, t.clicked));
        }
    }
    // What each member's redeemed campaign coupons saved them, by redemption time. An
    // order's paid amount is already net of its coupon: the saving is added back to its
    // revenue and profit and counted as the campaign's cost, so that the incremental
    // profit less cost is unchanged and the ROI has the coupons in its denominator.
    let mut redeemed: HashMap<i64, Vec<(DateTime<Utc>, i64)>> = HashMap::new();
    let filter = guanxi_store::CouponFilter {
        source: Some(guanxi_domain::campaign::program_name(&stored.name)),
        limit: u32::MAX,
        ..Default::default()
    };
    for c in store.coupons(&filter).await? {
        if let Some(at) = c.redeemed_at {
            redeemed.entry(c.customer_id).or_default().push((at, c.value_cents));
        }
    }
    let none = Vec::new();
    let outcome = |m: &CampaignMember, waves: &[usize], from: DateTime<Utc>, to: DateTime<Utc>| {
        let assigned = match m.variant {
            None => Assigned::Holdout,
            Some(v) => Assigned::Variant(v as usize),
        };
        // Each delivered message at its wave's price.
        let per_message = |wave: usize| {
            m.variant.map_or(0, |v| {
                i64::from(plan.variant(m.audience as usize, v as usize).cost(wave))
            })
        };
        let touches: Vec<(usize, (bool, bool, bool))> = waves
            .iter()
            .filter_map(|w| touched.get(&(m.customer_id, *w)).map(|t| (*w, *t)))
            .collect();
        let delivered = touches.iter().filter(|(_, t)| t.1).count();
        let saved: i64 = redeemed.get(&m.customer_id).map_or(0, |r| {
            r.iter().filter(|(at, _)| *at >= from && *at < to).map(|(_, v)| v).sum()
        });
        let cost = touches
            .iter()
            .filter(|(_, t)| t.1)
            .map(|(w, _)| per_message(*w))
            .sum::<i64>()
            + saved;
        let (converted, revenue, profit) = sums(during.get(&m.customer_id).unwrap_or(&none), from, to);
        let (revenue, profit) = (revenue + saved, profit + saved);
        let profit_before = before
            .get(&m.customer_id)
            .map_or(0, |o| sums(o, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC).2);
        Outcome {
            audience: m.audience as usize,
            assigned,
            delivered: delivered > 0,
            clicked: touches.iter().any(|(_, t)| t.2),
            converted,
            revenue,
            profit,
            profit_before,
            cost,
        }
    };
    let campaign = plan.campaign(stored.seed);
    let all: Vec<usize> = (0..plan.waves.len()).collect();
    let outcomes: Vec<Outcome> = members.iter().map(|m| outcome(m, &all, from, to)).collect();
    let mut rows = guanxi_domain::campaign::report(&campaign, &outcomes);
    // Each wave that went out: those it touched or held out (buyers skipped alike in
    // both arms), converting within the attribution window after its day.
    for wave in all {
        let in_wave: Vec<&CampaignMember> = members
            .iter()
            .filter(|m| touched.contains_key(&(m.customer_id, wave)))
            .collect();
        if in_wave.is_empty() {
            continue;
        }
        let day = start(tz, plan.wave_day(wave))?;
        let outcomes: Vec<Outcome> = in_wave
            .iter()
            .map(|m| outcome(m, &[wave], day, day + attribution))
            .collect();
        rows.extend(
            guanxi_domain::campaign::report(&campaign, &outcomes)
                .into_iter()
                .map(|mut r| {
                    r.wave = Some(wave as u32 + 1);
                    r
                }),
        );
    }
    Ok(Effect {
        campaign: stored.name,
        from,
        to,
        complete: now >= to,
        rows,
    })
}
