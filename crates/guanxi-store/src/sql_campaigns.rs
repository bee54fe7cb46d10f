//! Campaigns in SQL, written once for both backends: expanded inside
//! [`crate::sql_store!`] (so it shares its helpers) as the `Campaigns` implementation of
//! one store.

#[doc(hidden)]
#[macro_export]
macro_rules! sql_campaigns {
    ($store:ident, $db:ty, $backend:expr) => {
        const CAMPAIGN_COLUMNS: &str = "c.id, c.name, c.plan, c.seed, c.created_at, c.created_by, c.launched_at, \
             (SELECT COUNT(*) FROM campaign_members m WHERE m.campaign_id = c.id) AS members";

        fn campaign_from_row(r: &DbRow) -> $crate::Result<$crate::StoredCampaign> {
            Ok($crate::StoredCampaign {
                id: get(r, "id")?,
                name: get(r, "name")?,
                plan: get(r, "plan")?,
                // Stored as the same 64 bits, signed.
                seed: get::<i64>(r, "seed")? as u64,
                created_at: get(r, "created_at")?,
                created_by: get(r, "created_by")?,
                launched_at: get(r, "launched_at")?,
                members: get::<i64>(r, "members")? as u64,
            })
        }

        /// Rows a launch inserts per statement (5 parameters each: well under SQLite's
        /// 32,766 and PostgreSQL's 65,535).
        const MEMBERS_PER_STATEMENT: usize = 2000;

        #[async_trait::async_trait]
        impl $crate::Campaigns for $store {
            async fn create_campaign(
                &self,
                name: &str,
                plan: &str,
                seed: u64,
                by: &$crate::Audited,
            ) -> $crate::Result<$crate::StoredCampaign> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                refuse_taken(&mut *tx, "campaigns", "a campaign", name).await?;
                let mut b = Builder::new("INSERT INTO campaigns (name, plan, seed, created_at, created_by) ");
                b.push_values([()], |mut s, _| {
                    s.push_bind(name.to_string())
                        .push_bind(plan.to_string())
                        .push_bind(seed as i64)
                        .push_bind(by.at)
                        .push_bind(by.actor.clone());
                });
                b.push(" RETURNING id");
                let id: i64 = get(&b.build().fetch_one(&mut *tx).await.map_err(db_err)?, "id")?;
                let entry = $crate::Audited {
                    action: "campaign.create".into(),
                    subject: format!("campaign:{id}"),
                    detail: name.to_string(),
                    ..by.clone()
                };
                append_audit(&mut *tx, &entry).await?;
                tx.commit().await.map_err(db_err)?;
                Ok($crate::StoredCampaign {
                    id,
                    name: name.to_string(),
                    plan: plan.to_string(),
                    seed,
                    created_at: by.at,
                    created_by: by.actor.clone(),
                    launched_at: None,
                    members: 0,
                })
            }

            async fn campaigns(&self) -> $crate::Result<Vec<$crate::StoredCampaign>> {
                let b = Builder::new(format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c ORDER BY c.id DESC"
                ));
                rows_of(&self.pool, b, campaign_from_row).await
            }

            async fn campaign(&self, name: &str) -> $crate::Result<Option<$crate::StoredCampaign>> {
                let mut b = Builder::new(format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.name = "
                ));
                b.push_bind(name.to_string());
                b.build()
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(campaign_from_row)
                    .transpose()
            }

            async fn launch_campaign(
                &self,
                id: i64,
                members: &[$crate::CampaignMember],
                by: &$crate::Audited,
            ) -> $crate::Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // Claims the launch first: a second launch (here or on another instance)
                // finds it claimed and is refused before writing anyone.
                let mut b = Builder::new("UPDATE campaigns SET launched_at = ");
                b.push_bind(by.at)
                    .push(" WHERE launched_at IS NULL AND id = ")
                    .push_bind(id);
                if b.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected() == 0 {
                    return Err($crate::StoreError::Refused(format!(
                        "campaign #{id} does not exist or was launched already; its members stay as launched"
                    )));
                }
                for chunk in members.chunks(MEMBERS_PER_STATEMENT) {
                    let mut b = Builder::new(
                        "INSERT INTO campaign_members (campaign_id, customer_id, audience, variant, reason) ",
                    );
                    b.push_values(chunk, |mut s, m| {
                        s.push_bind(id)
                            .push_bind(m.customer_id)
                            .push_bind(i64::from(m.audience))
                            .push_bind(m.variant.map(i64::from))
                            .push_bind(m.reason.clone());
                    });
                    b.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                let held = members.iter().filter(|m| m.variant.is_none()).count();
                let entry = $crate::Audited {
                    action: "campaign.launch".into(),
                    subject: format!("campaign:{id}"),
                    detail: format!("{} members, {held} held out", members.len()),
                    ..by.clone()
                };
                append_audit(&mut *tx, &entry).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn campaign_members(
                &self,
                id: i64,
                after: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::CampaignMember>> {
                let mut b = Builder::new(
                    "SELECT customer_id, audience, variant, reason FROM campaign_members WHERE campaign_id = ",
                );
                b.push_bind(id)
                    .push(" AND customer_id > ")
                    .push_bind(after)
                    .push(" ORDER BY customer_id LIMIT ")
                    .push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                    Ok($crate::CampaignMember {
                        customer_id: get(r, "customer_id")?,
                        audience: get::<i64>(r, "audience")? as u32,
                        variant: get::<Option<i64>>(r, "variant")?.map(|v| v as u32),
                        reason: get(r, "reason")?,
                    })
                })
                .await
            }

            async fn campaign_orders(
                &self,
                id: i64,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Vec<$crate::CampaignOrder>> {
                let mut b = Builder::new(
                    "SELECT m.customer_id, o.paid_at, o.paid_cents, o.refund_cents, \
                     CAST(coalesce((SELECT sum(l.cost_cents) FROM order_lines l WHERE l.order_id = o.id), 0) AS BIGINT) AS cost \
                     FROM campaign_members m JOIN customers c ON (c.id = m.customer_id OR c.merged_into = m.customer_id) \
                     JOIN orders o ON o.customer_id = c.id WHERE m.campaign_id = ",
                );
                b.push_bind(id)
                    .push(" AND o.paid_at >= ")
                    .push_bind(from)
                    .push(" AND o.paid_at < ")
                    .push_bind(to)
                    .push(" ORDER BY m.customer_id, o.paid_at");
                rows_of(&self.pool, b, |r| {
                    Ok($crate::CampaignOrder {
                        customer_id: get(r, "customer_id")?,
                        paid_at: get(r, "paid_at")?,
                        paid_cents: get(r, "paid_cents")?,
                        cost_cents: get(r, "cost")?,
                        refund_cents: get(r, "refund_cents")?,
                    })
                })
                .await
            }

            async fn campaign_touches(&self, name: &str) -> $crate::Result<Vec<$crate::CampaignTouch>> {
                let program = guanxi_domain::campaign::program_name(name);
                let mut b = Builder::new(
                    "SELECT customer_id, step, channel, FALSE AS held, (sent_at IS NOT NULL AND status <> 'failed') AS delivered, \
                     (clicked_at IS NOT NULL) AS clicked FROM messages WHERE program = ",
                );
                b.push_bind(program.clone()).push(
                    " UNION ALL SELECT customer_id, step, NULL, TRUE, FALSE, FALSE FROM program_actions \
                     WHERE action = 'holdout' AND program = ",
                );
                b.push_bind(program).push(" ORDER BY customer_id, step");
                rows_of(&self.pool, b, |r| {
                    let channel: Option<String> = get(r, "channel")?;
                    Ok($crate::CampaignTouch {
                        customer_id: get(r, "customer_id")?,
                        step: get(r, "step")?,
                        channel: channel.map(|c| dom::Channel::parse(&c).map_err(corrupt)).transpose()?,
                        held: get(r, "held")?,
                        delivered: get(r, "delivered")?,
                        clicked: get(r, "clicked")?,
                    })
                })
                .await
            }
        }
    };
}
