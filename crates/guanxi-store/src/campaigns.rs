//! Campaigns: the plan a marketer wrote and its launch's snapshot — every member, their
//! audience, their variant or the holdout, and why — kept so that the report compares
//! exactly the customers chosen at launch, however the segments change after. Every
//! backend implements [`Campaigns`] with the shared SQL (`sql_campaigns.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Audited, Result};

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCampaign {
    pub id: i64,
    pub name: String,
    /// The plan as written (TOML).
    pub plan: String,
    /// The seed of its draws, fixed at creation.
    pub seed: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub launched_at: Option<DateTime<Utc>>,
    /// Members snapshotted at launch.
    pub members: u64,
}

/// One member of a launched campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignMember {
    pub customer_id: i64,
    /// The index of their audience in the plan.
    pub audience: u32,
    /// The index of their variant; `None`: held out.
    pub variant: Option<u32>,
    pub reason: String,
}

/// A paid order of a campaign's member (or of a customer merged into them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CampaignOrder {
    /// The member it counts for.
    pub customer_id: i64,
    pub paid_at: DateTime<Utc>,
    pub paid_cents: i64,
    /// The goods' cost where the lines know it (0 where they do not).
    pub cost_cents: i64,
    pub refund_cents: i64,
}

/// What one wave did for one member: a message (queued, sent, delivered, clicked) or
/// the record that they were held out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignTouch {
    pub customer_id: i64,
    /// The wave's step name (`wave-1`, …).
    pub step: String,
    /// The message's channel; `None` when held out.
    pub channel: Option<guanxi_domain::Channel>,
    pub held: bool,
    /// Handed to the channel and not reported failed.
    pub delivered: bool,
    pub clicked: bool,
}

#[async_trait]
pub trait Campaigns: Send + Sync {
    /// Stores a new campaign (audited `campaign.create` with `by`); a name taken is
    /// refused.
    async fn create_campaign(&self, name: &str, plan: &str, seed: u64, by: &Audited) -> Result<StoredCampaign>;

    /// Every campaign, the newest first.
    async fn campaigns(&self) -> Result<Vec<StoredCampaign>>;

    async fn campaign(&self, name: &str) -> Result<Option<StoredCampaign>>;

    /// Records campaign `id`'s launch at `by.at`: its members, all or none, audited
    /// `campaign.launch`. A campaign launched before is refused and keeps its snapshot.
    async fn launch_campaign(&self, id: i64, members: &[CampaignMember], by: &Audited) -> Result<()>;

    /// Members of campaign `id` with a customer id above `after`, in customer order, at
    /// most `limit`.
    async fn campaign_members(&self, id: i64, after: i64, limit: u32) -> Result<Vec<CampaignMember>>;

    /// Every member of campaign `id`, a page at a time, in customer order.
    async fn all_campaign_members(&self, id: i64) -> Result<Vec<CampaignMember>> {
        const PAGE: u32 = 10_000;
        let mut out: Vec<CampaignMember> = Vec::new();
        loop {
            let after = out.last().map_or(0, |m| m.customer_id);
            let page = self.campaign_members(id, after, PAGE).await?;
            let full = page.len() as u32 == PAGE;
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// The orders campaign `id`'s members (and the customers merged into them) paid in
    /// `[from, to)`, each counted for its member.
    async fn campaign_orders(&self, id: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<CampaignOrder>>;

    /// Every touch of campaign `name`'s waves so far (its messages in the outbox and its
    /// holdout records), in customer order.
    async fn campaign_touches(&self, name: &str) -> Result<Vec<CampaignTouch>>;
}
