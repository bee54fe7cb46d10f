//! Profile builds in SQL, written once for both backends: expanded inside
//! [`crate::sql_store!`] as the `Builds` implementation of one store (it uses that
//! expansion's helpers: `db_err`, `get`, `rows_of`, `build_from_row`, `satisfaction_of`);
//! the build's write and the profile columns' read are each backend's own
//! (`write_build`, `read_profile_columns`).

#[doc(hidden)]
#[macro_export]
macro_rules! sql_builds {
    ($store:ident, $db:ty, $backend:expr) => {
        impl $store {
            /// The latest build's figures with its as-of moment; `None` before any build,
            /// or for a build stored before figures were.
            async fn stored_figures(&self) -> $crate::Result<Option<(chrono::DateTime<chrono::Utc>, $crate::BuildFigures)>> {
                let row = sqlx::query("SELECT as_of, figures FROM profile_builds ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                let Some(row) = row else { return Ok(None) };
                let Some(text) = get::<Option<String>>(&row, "figures")? else { return Ok(None) };
                Ok(Some((get(&row, "as_of")?, $crate::BuildFigures::from_json(&text)?)))
            }
        }

        #[async_trait::async_trait]
        impl $crate::Builds for $store {
            async fn save_build(
                &self,
                build: &$crate::BuildRecord,
                rows: &mut dyn $crate::BuildRows,
            ) -> $crate::Result<$crate::BuildRecord> {
                self.write_build(build, rows).await
            }

            async fn latest_build(&self) -> $crate::Result<Option<$crate::BuildRecord>> {
                let row = sqlx::query("SELECT * FROM profile_builds ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                row.as_ref().map(build_from_row).transpose()
            }

            async fn movements(&self, since: Option<chrono::DateTime<chrono::Utc>>) -> $crate::Result<Vec<$crate::Movement>> {
                let mut b = Builder::new("SELECT kind, from_class, to_class, count(*) AS n FROM class_transitions");
                if let Some(t) = since {
                    b.push(" WHERE as_of > ").push_bind(t);
                }
                b.push(" GROUP BY kind, from_class, to_class ORDER BY kind, n DESC, coalesce(from_class, ''), coalesce(to_class, '')");
                rows_of(&self.pool, b, |r| {
                        Ok($crate::Movement {
                            kind: get(r, "kind")?,
                            from: get(r, "from_class")?,
                            to: get(r, "to_class")?,
                            customers: get::<i64>(r, "n")? as u64,
                        })
                    }).await
            }

            async fn class_totals(&self) -> $crate::Result<Vec<$crate::ClassTotal>> {
                if let Some((_, f)) = self.stored_figures().await? {
                    return Ok(f.class_totals);
                }
                // A build stored before its figures were: one grouped scan per kind; sums cast so that PostgreSQL's numeric sums
                // decode as integers like SQLite's.
                let parts: Vec<String> = guanxi_domain::profile::ClassKind::ALL
                    .iter()
                    .map(|k| {
                        format!(
                            "SELECT '{k}' AS kind, {k} AS class, count(*) AS n, \
                             CAST(coalesce(sum(paid_amount_cents), 0) AS BIGINT) AS paid, \
                             CAST(coalesce(sum(profit_cents), 0) AS BIGINT) AS profit, \
                             CAST(coalesce(sum(clv_cents), 0) AS BIGINT) AS clv \
                             FROM profiles WHERE {k} IS NOT NULL GROUP BY {k}"
                        )
                    })
                    .collect();
                let b = Builder::new(format!("{} ORDER BY kind, n DESC, class", parts.join(" UNION ALL ")));
                rows_of(&self.pool, b, |r| {
                    Ok($crate::ClassTotal {
                        kind: get(r, "kind")?,
                        class: get(r, "class")?,
                        customers: get::<i64>(r, "n")? as u64,
                        paid_amount_cents: get(r, "paid")?,
                        profit_cents: get(r, "profit")?,
                        clv_cents: get(r, "clv")?,
                    })
                })
                .await
            }

            async fn satisfaction(&self, as_of: chrono::DateTime<chrono::Utc>) -> $crate::Result<$crate::Satisfaction> {
                if let Some(f) = self.stored_figures().await?.filter(|(at, _)| *at == as_of) {
                    return Ok(f.1.satisfaction);
                }
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                satisfaction_of(&mut conn, as_of).await
            }

            async fn clv_distribution(&self) -> $crate::Result<Vec<$crate::ClvBucket>> {
                if let Some((_, f)) = self.stored_figures().await? {
                    return Ok(f.clv);
                }
                let bounds = $crate::CLV_BUCKETS;
                let mut case = String::from("CASE");
                for (i, from) in bounds.iter().enumerate().rev() {
                    case += &format!(" WHEN clv_cents >= {from} THEN {i}");
                }
                // Negative CLVs (not produced by the models) count with the first bucket.
                case += " ELSE 0 END";
                let b = Builder::new(format!(
                    "SELECT {case} AS bucket, count(*) AS n, CAST(sum(clv_cents) AS BIGINT) AS clv \
                     FROM profiles WHERE clv_cents IS NOT NULL GROUP BY 1 ORDER BY 1"
                ));
                let found = rows_of(&self.pool, b, |r| {
                    Ok((get::<i32>(r, "bucket")? as usize, get::<i64>(r, "n")? as u64, get::<i64>(r, "clv")?))
                })
                .await?;
                Ok(bounds
                    .iter()
                    .enumerate()
                    .map(|(i, &from)| {
                        let (customers, clv_cents) = found
                            .iter()
                            .find(|(b, ..)| *b == i)
                            .map_or((0, 0), |(_, n, c)| (*n, *c));
                        $crate::ClvBucket {
                            from_cents: from,
                            to_cents: bounds.get(i + 1).copied(),
                            customers,
                            clv_cents,
                        }
                    })
                    .collect())
            }

            async fn customer_transitions(&self, customer_id: i64) -> $crate::Result<Vec<$crate::Transition>> {
                let mut b = Builder::new("SELECT kind, from_class, to_class, as_of FROM class_transitions WHERE customer_id = ");
                b.push_bind(customer_id).push(" ORDER BY id");
                rows_of(&self.pool, b, |r| {
                        Ok($crate::Transition {
                            kind: get(r, "kind")?,
                            from: get(r, "from_class")?,
                            to: get(r, "to_class")?,
                            as_of: get(r, "as_of")?,
                        })
                    }).await
            }

            async fn profile_columns(&self) -> $crate::Result<Option<$crate::ProfileColumns>> {
                // Each backend reads them its own way (SQLite: rusqlite, a million rows in
                // about a second where sqlx's row channel took ten).
                self.read_profile_columns().await
            }
        }
    };
}
