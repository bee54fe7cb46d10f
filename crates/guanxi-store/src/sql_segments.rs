//! Segments in SQL, written once for both backends: expanded inside
//! [`crate::sql_store!`] as the `Segments` implementation of one store (it uses that
//! expansion's helpers: `db_err`, `get`, `rows_of`, `push_pieces`, `member_from_row`).

#[doc(hidden)]
#[macro_export]
macro_rules! sql_segments {
    ($store:ident, $db:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::segment::Segments for $store {
            async fn segment_count(&self, expr: &dom::segment::Expr, as_of: chrono::DateTime<chrono::Utc>) -> $crate::Result<u64> {
                let mut b = Builder::new("SELECT count(*) AS n");
                b.push($crate::segment::from(expr)).push("WHERE ");
                push_pieces(&mut b, $crate::segment::compile(expr, as_of)?);
                let row = b.build().fetch_one(&self.pool).await.map_err(db_err)?;
                Ok(get::<i64>(&row, "n")? as u64)
            }

            async fn segment_members(
                &self,
                expr: &dom::segment::Expr,
                as_of: chrono::DateTime<chrono::Utc>,
                after_id: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::SegmentMember>> {
                // Paged by the profile's id (the same as the customer's): the profiles'
                // class indexes are in that order, so a page stops at `limit`. By `c.id`,
                // SQLite read and sorted every remaining member for each page — a
                // scheduler pass over a 340,000-member segment took 25–36 s.
                let mut b = Builder::new("SELECT c.id, c.source, c.external_id, c.name");
                b.push($crate::segment::FROM).push("WHERE p.customer_id > ").push_bind(after_id).push(" AND ");
                push_pieces(&mut b, $crate::segment::compile(expr, as_of)?);
                b.push(" ORDER BY p.customer_id LIMIT ").push_bind(i64::from(limit));
                rows_of(&self.pool, b, member_from_row).await
            }

            async fn segment_plan(
                &self,
                expr: &dom::segment::Expr,
                as_of: chrono::DateTime<chrono::Utc>,
                customer: Option<i64>,
            ) -> $crate::Result<$crate::SegmentPlan> {
                let nodes = $crate::segment::nodes(expr);
                let mut b = Builder::new("SELECT ");
                for (i, n) in nodes.iter().enumerate() {
                    if i > 0 {
                        b.push(", ");
                    }
                    b.push("CAST(coalesce(sum(CASE WHEN ");
                    push_pieces(&mut b, $crate::segment::compile(n, as_of)?);
                    b.push(format!(" THEN 1 ELSE 0 END), 0) AS BIGINT) AS n{i}"));
                }
                b.push($crate::segment::from(expr));
                let row = b.build().fetch_one(&self.pool).await.map_err(db_err)?;
                let counts = (0..nodes.len()).map(|i| get::<i64>(&row, &format!("n{i}")).map(|v| v as u64)).collect::<Result<Vec<_>, _>>()?;
                let held = match customer {
                    None => None,
                    Some(id) => {
                        let mut b = Builder::new("SELECT ");
                        for (i, n) in nodes.iter().enumerate() {
                            if i > 0 {
                                b.push(", ");
                            }
                            b.push("CAST(CASE WHEN ");
                            push_pieces(&mut b, $crate::segment::compile(n, as_of)?);
                            b.push(format!(" THEN 1 ELSE 0 END AS BIGINT) AS n{i}"));
                        }
                        b.push($crate::segment::from(expr)).push("WHERE p.customer_id = ").push_bind(id);
                        let row = b.build().fetch_optional(&self.pool).await.map_err(db_err)?;
                        let row = row.ok_or_else(|| $crate::StoreError::Refused(format!("customer #{id} has no profile: build the profiles first (guanxi profile build)")))?;
                        Some((0..nodes.len()).map(|i| get::<i64>(&row, &format!("n{i}")).map(|v| v != 0)).collect::<Result<Vec<_>, _>>()?)
                    }
                };
                Ok($crate::SegmentPlan { counts, held })
            }

            async fn save_segment(&self, s: &$crate::SavedSegment) -> $crate::Result<()> {
                let mut b = Builder::new("INSERT INTO segments (name, description, expression, created_at, updated_at) ");
                b.push_values([s], |mut v, s| {
                    v.push_bind(s.name.clone()).push_bind(s.description.clone()).push_bind(s.expression.clone()).push_bind(s.created_at).push_bind(s.updated_at);
                });
                b.push(" ON CONFLICT (name) DO UPDATE SET description = excluded.description, expression = excluded.expression, updated_at = excluded.updated_at");
                b.build().execute(&self.pool).await.map_err(db_err)?;
                Ok(())
            }

            async fn segments(&self) -> $crate::Result<Vec<$crate::SavedSegment>> {
                sqlx::query("SELECT name, description, expression, created_at, updated_at FROM segments ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|r| {
                        Ok($crate::SavedSegment {
                            name: get(r, "name")?,
                            description: get(r, "description")?,
                            expression: get(r, "expression")?,
                            created_at: get(r, "created_at")?,
                            updated_at: get(r, "updated_at")?,
                        })
                    })
                    .collect()
            }

            async fn delete_segment(&self, name: &str) -> $crate::Result<bool> {
                let mut b = Builder::new("DELETE FROM segments WHERE name = ");
                b.push_bind(name.to_string());
                Ok(b.build().execute(&self.pool).await.map_err(db_err)?.rows_affected() > 0)
            }
        }
    };
}
