//! Service records and reviews in SQL, written once for both backends: expanded inside
//! [`crate::sql_store!`] as the `Records` implementation of one store (it uses that
//! expansion's helpers: `db_err`, `get`, `corrupt`, `rows_of`, `service_from_row`,
//! `review_from_row`).

#[doc(hidden)]
#[macro_export]
macro_rules! sql_records {
    ($store:ident, $db:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::Records for $store {
            async fn service_records_after(
                &self,
                after_id: i64,
                limit: u32,
            ) -> $crate::Result<Vec<(i64, i64, $crate::HistoryService)>> {
                let mut b = Builder::new(
                    "SELECT id, customer_id, kind, status, opened_at, closed_at, satisfaction, note FROM service_records WHERE id > ",
                );
                b.push_bind(after_id).push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                    Ok((
                        get(r, "id")?,
                        get(r, "customer_id")?,
                        service_from_row(r)?,
                    ))
                })
                .await
            }

            async fn reviews_after(&self, after_id: i64, limit: u32) -> $crate::Result<Vec<(i64, i64, $crate::HistoryReview)>> {
                let mut b = Builder::new(
                    "SELECT id, customer_id, created_at, item_rating, service_rating, logistics_rating, text FROM reviews WHERE id > ",
                );
                b.push_bind(after_id).push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                    Ok((
                        get(r, "id")?,
                        get(r, "customer_id")?,
                        review_from_row(r)?,
                    ))
                })
                .await
            }

            async fn service_facts(&self) -> $crate::Result<Vec<(i64, dom::profile::ServiceFact)>> {
                let rows = sqlx::query("SELECT customer_id, kind, status, opened_at, closed_at, cost_cents FROM service_records")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            get(r, "customer_id")?,
                            dom::profile::ServiceFact {
                                kind: dom::ServiceKind::parse(&get::<String>(r, "kind")?).map_err(corrupt)?,
                                status: dom::ServiceStatus::parse(&get::<String>(r, "status")?).map_err(corrupt)?,
                                opened_at: get(r, "opened_at")?,
                                closed_at: get(r, "closed_at")?,
                                cost: dom::Cents(get(r, "cost_cents")?),
                            },
                        ))
                    })
                    .collect()
            }

            async fn review_facts(&self) -> $crate::Result<Vec<(i64, dom::profile::ReviewFact)>> {
                let rows = sqlx::query("SELECT customer_id, created_at, item_rating, service_rating, logistics_rating FROM reviews")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                let rating = |r: &DbRow, col: &str| -> $crate::Result<Option<dom::Rating>> {
                    get::<Option<i64>>(r, col)?
                        .map(|v| u8::try_from(v).ok().and_then(|v| dom::Rating::try_from(v).ok()).ok_or_else(|| corrupt(format!("{col} {v}"))))
                        .transpose()
                };
                rows.iter()
                    .map(|r| {
                        Ok((
                            get(r, "customer_id")?,
                            dom::profile::ReviewFact {
                                created_at: get(r, "created_at")?,
                                item: rating(r, "item_rating")?,
                                service: rating(r, "service_rating")?,
                                logistics: rating(r, "logistics_rating")?,
                            },
                        ))
                    })
                    .collect()
            }
        }
    };
}
