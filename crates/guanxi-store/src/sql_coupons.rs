//! Coupons in SQL, written once for both backends: expanded inside
//! [`crate::sql_store!`] as the `Coupons` implementation of one store.

#[doc(hidden)]
#[macro_export]
macro_rules! sql_coupons {
    ($store:ident, $db:ty, $backend:expr) => {
        /// Inserts coupons whose issuance key (or, against all odds, code) is new; 10
        /// parameters a row.
        async fn insert_coupons(
            tx: &mut sqlx::Transaction<'_, $db>,
            coupons: &[&$crate::NewCoupon],
        ) -> $crate::Result<u64> {
            let mut issued = 0;
            for chunk in coupons.chunks(1000) {
                let mut b = Builder::new(
                    "INSERT INTO coupons (issue_key, code, customer_id, definition, kind, value_cents, min_spend_cents, \
                     issued_at, expires_at, source) ",
                );
                b.push_values(chunk, |mut s, new| {
                    let c = &new.coupon;
                    s.push_bind(new.issue_key.clone())
                        .push_bind(c.code.clone())
                        .push_bind(c.customer_id)
                        .push_bind(c.definition.clone())
                        .push_bind(c.kind.as_str())
                        .push_bind(c.value_cents)
                        .push_bind(c.min_spend_cents)
                        .push_bind(c.issued_at)
                        .push_bind(c.expires_at)
                        .push_bind(c.source.clone());
                });
                b.push(" ON CONFLICT DO NOTHING");
                issued += b.build().execute(&mut **tx).await.map_err(db_err)?.rows_affected();
            }
            Ok(issued)
        }

        #[async_trait::async_trait]
        impl $crate::Coupons for $store {
            async fn issue_coupons(&self, coupons: &[$crate::NewCoupon]) -> $crate::Result<u64> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let all: Vec<&$crate::NewCoupon> = coupons.iter().collect();
                let issued = insert_coupons(&mut tx, &all).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(issued)
            }

            async fn coupons(&self, filter: &$crate::CouponFilter) -> $crate::Result<Vec<guanxi_domain::coupon::Coupon>> {
                let mut b = Builder::new(
                    "SELECT code, customer_id, definition, kind, value_cents, min_spend_cents, issued_at, expires_at, \
                     source, redeemed_order_id, redeemed_at FROM coupons WHERE 1 = 1",
                );
                if let Some(id) = filter.customer_id {
                    b.push(" AND customer_id = ").push_bind(id);
                }
                if !filter.customers.is_empty() {
                    b.push(" AND customer_id IN (");
                    let mut list = b.separated(", ");
                    for id in &filter.customers {
                        list.push_bind(*id);
                    }
                    b.push(")");
                }
                if let Some(s) = &filter.source {
                    b.push(" AND source = ").push_bind(s.clone());
                }
                if let Some(c) = &filter.code {
                    b.push(" AND code = ").push_bind(c.clone());
                }
                if let Some(k) = &filter.issue_key {
                    b.push(" AND issue_key = ").push_bind(k.clone());
                }
                b.push(" ORDER BY issued_at DESC, id DESC LIMIT ").push_bind(i64::from(filter.limit));
                rows_of(&self.pool, b, |r| {
                    let kind: String = get(r, "kind")?;
                    Ok(guanxi_domain::coupon::Coupon {
                        code: get(r, "code")?,
                        customer_id: get(r, "customer_id")?,
                        definition: get(r, "definition")?,
                        kind: guanxi_domain::coupon::Kind::parse(&kind).map_err(corrupt)?,
                        value_cents: get(r, "value_cents")?,
                        min_spend_cents: get(r, "min_spend_cents")?,
                        issued_at: get(r, "issued_at")?,
                        expires_at: get(r, "expires_at")?,
                        source: get(r, "source")?,
                        redeemed_order: get(r, "redeemed_order_id")?,
                        redeemed_at: get(r, "redeemed_at")?,
                    })
                })
                .await
            }

            async fn redeem_coupons(&self, codes: Option<&[String]>) -> $crate::Result<u64> {
                // The first paid order naming the code, at or after the coupon's issuance
                // (an older order naming the same text is not its redemption).
                const FIRST: &str = "FROM orders o WHERE o.coupon = coupons.code AND o.paid_at IS NOT NULL \
                                     AND o.paid_at >= coupons.issued_at";
                let update = format!(
                    "UPDATE coupons SET redeemed_order_id = (SELECT o.id {FIRST} ORDER BY o.paid_at, o.id LIMIT 1), \
                     redeemed_at = (SELECT o.paid_at {FIRST} ORDER BY o.paid_at, o.id LIMIT 1) \
                     WHERE redeemed_order_id IS NULL AND EXISTS (SELECT 1 {FIRST})"
                );
                let Some(codes) = codes else {
                    let done = sqlx::query(sqlx::AssertSqlSafe(update.as_str())).execute(&self.pool).await.map_err(db_err)?;
                    return Ok(done.rows_affected());
                };
                let mut redeemed = 0;
                for chunk in codes.chunks(1000) {
                    let mut b = Builder::new(format!("{update} AND code IN ("));
                    let mut list = b.separated(", ");
                    for c in chunk {
                        list.push_bind(c.clone());
                    }
                    b.push(")");
                    redeemed += b.build().execute(&self.pool).await.map_err(db_err)?.rows_affected();
                }
                Ok(redeemed)
            }
        }
    };
}
