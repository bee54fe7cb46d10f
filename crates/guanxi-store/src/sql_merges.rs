//! Merges in SQL, written once for both backends: expanded inside [`crate::sql_store!`]
//! as the `Merges` implementation of one store (it uses that expansion's helpers:
//! `db_err`, `get`, `rows_of`, `consents_of`, `set_consents`).

#[doc(hidden)]
#[macro_export]
macro_rules! sql_merges {
    ($store:ident, $db:ty, $backend:expr) => {
        /// (source, external_id, merged_into) of a customer, or a refusal naming it.
        async fn customer_row(conn: &mut Conn, id: i64) -> $crate::Result<(String, String, Option<i64>)> {
            let mut b = Builder::new("SELECT source, external_id, merged_into FROM customers WHERE id = ");
            b.push_bind(id);
            let row = b.build().fetch_optional(&mut *conn).await.map_err(db_err)?;
            let row = row.ok_or_else(|| $crate::StoreError::Refused(format!("no customer #{id}")))?;
            Ok((get(&row, "source")?, get(&row, "external_id")?, get(&row, "merged_into")?))
        }

        async fn audit(conn: &mut Conn, at: chrono::DateTime<chrono::Utc>, actor: &str, action: &str, subject: String, detail: String) -> $crate::Result<()> {
            let mut b = Builder::new("INSERT INTO audit_log (at, actor, action, subject, detail) ");
            b.push_values([()], |mut s, _| {
                s.push_bind(at).push_bind(actor.to_string()).push_bind(action.to_string()).push_bind(subject.clone()).push_bind(detail.clone());
            });
            b.build().execute(&mut *conn).await.map_err(db_err)?;
            Ok(())
        }

        /// Contact columns a merge may copy, each group filled together.
        const CONTACT_GROUPS: [&[&str]; 4] = [&["mobile_raw", "mobile"], &["email_raw", "email"], &["wechat"], &["qq"]];

        async fn contact_values(conn: &mut Conn, id: i64) -> $crate::Result<HashMap<&'static str, Option<String>>> {
            let mut b = Builder::new("SELECT mobile_raw, mobile, email_raw, email, wechat, qq FROM customers WHERE id = ");
            b.push_bind(id);
            let row = b.build().fetch_one(&mut *conn).await.map_err(db_err)?;
            let mut out = HashMap::new();
            for col in CONTACT_GROUPS.iter().flat_map(|g| g.iter()) {
                out.insert(*col, get::<Option<String>>(&row, col)?);
            }
            Ok(out)
        }

        /// Copies to `kept` each contact group it lacks and `merged` has; returns the groups
        /// filled (by their first column).
        async fn fill_contacts(conn: &mut Conn, kept: i64, merged: i64) -> $crate::Result<Vec<String>> {
            let (mine, theirs) = (contact_values(conn, kept).await?, contact_values(conn, merged).await?);
            let mut filled = Vec::new();
            for group in CONTACT_GROUPS {
                if mine[group[0]].is_none() && theirs[group[0]].is_some() {
                    let mut b = Builder::new("UPDATE customers SET ");
                    let mut sep = b.separated(", ");
                    for col in group {
                        sep.push(format!("{col} = ")).push_bind_unseparated(theirs[col].clone());
                    }
                    b.push(" WHERE id = ").push_bind(kept);
                    b.build().execute(&mut *conn).await.map_err(db_err)?;
                    filled.push(group[0].to_string());
                }
            }
            Ok(filled)
        }

        /// Clears the contact groups a merge filled, where they still hold the merged
        /// customer's values.
        async fn unfill_contacts(conn: &mut Conn, kept: i64, merged: i64, filled: &[String]) -> $crate::Result<()> {
            let (mine, theirs) = (contact_values(conn, kept).await?, contact_values(conn, merged).await?);
            for group in CONTACT_GROUPS.iter().filter(|g| filled.iter().any(|f| f == g[0])) {
                if group.iter().all(|c| mine[c] == theirs[c]) {
                    let sets: Vec<String> = group.iter().map(|c| format!("{c} = NULL")).collect();
                    let mut b = Builder::new(format!("UPDATE customers SET {} WHERE id = ", sets.join(", ")));
                    b.push_bind(kept);
                    b.build().execute(&mut *conn).await.map_err(db_err)?;
                }
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::Merges for $store {
            async fn merged_into(&self) -> $crate::Result<Vec<(i64, i64)>> {
                // Sorted here: with `ORDER BY id` SQLite walked every customer by id
                // (0.16 s at a million, on every report page) instead of the partial index.
                let rows = sqlx::query("SELECT id, merged_into FROM customers WHERE merged_into IS NOT NULL")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                let mut merged = rows
                    .iter()
                    .map(|r| Ok((get(r, "id")?, get(r, "merged_into")?)))
                    .collect::<$crate::Result<Vec<(i64, i64)>>>()?;
                merged.sort_unstable();
                Ok(merged)
            }

            async fn merge_proposals(&self, limit: u32) -> $crate::Result<Vec<$crate::MergeProposal>> {
                let mut b = Builder::new(
                    "SELECT a.id AS a, b.id AS b, 'mobile' AS via, a.mobile AS value FROM customers a JOIN customers b ON b.mobile = a.mobile AND b.id > a.id \
                     WHERE a.merged_into IS NULL AND b.merged_into IS NULL \
                     UNION ALL SELECT a.id AS a, b.id AS b, 'email' AS via, a.email AS value FROM customers a JOIN customers b ON b.email = a.email AND b.id > a.id \
                     WHERE a.merged_into IS NULL AND b.merged_into IS NULL ORDER BY a, b, via LIMIT ",
                );
                b.push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                        Ok($crate::MergeProposal { a: get(r, "a")?, b: get(r, "b")?, via: get(r, "via")?, value: get(r, "value")? })
                    }).await
            }

            async fn merge(&self, kept: i64, merged: i64, actor: &str, at: chrono::DateTime<chrono::Utc>) -> $crate::Result<()> {
                if kept == merged {
                    return Err($crate::StoreError::Refused(format!("cannot merge customer #{kept} into itself")));
                }
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let (_, _, kept_into) = customer_row(&mut tx, kept).await?;
                let (m_source, m_external, merged_into) = customer_row(&mut tx, merged).await?;
                if let Some(p) = kept_into {
                    return Err($crate::StoreError::Refused(format!("customer #{kept} is merged into #{p}: merge into #{p} instead")));
                }
                if let Some(p) = merged_into {
                    return Err($crate::StoreError::Refused(format!("customer #{merged} is already merged into #{p}")));
                }
                let mut b = Builder::new("SELECT count(*) AS n FROM customers WHERE merged_into = ");
                b.push_bind(merged);
                if get::<i64>(&b.build().fetch_one(&mut *tx).await.map_err(db_err)?, "n")? > 0 {
                    return Err($crate::StoreError::Refused(format!(
                        "customers are merged into #{merged}: merge #{merged} the other way (keep it) or unmerge those first"
                    )));
                }
                let before = consents_of(&mut tx, kept).await?;
                let theirs = consents_of(&mut tx, merged).await?;
                let mut after: Vec<dom::Consent> = Vec::new();
                for ch in dom::Channel::ALL {
                    let mine = before.iter().find(|c| c.channel == *ch);
                    let other = theirs.iter().find(|c| c.channel == *ch);
                    match (mine, other) {
                        (Some(a), Some(b)) => after.push(dom::most_restrictive(a, b).clone()),
                        (Some(a), None) | (None, Some(a)) => after.push(a.clone()),
                        (None, None) => {}
                    }
                }
                set_consents(&mut tx, kept, &after).await?;
                // Contacts the kept customer lacks come from the merged one.
                let filled = fill_contacts(&mut tx, kept, merged).await?;
                let mut b = Builder::new("UPDATE customers SET merged_into = ");
                b.push_bind(kept).push(" WHERE id = ").push_bind(merged);
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                let mut b = Builder::new("INSERT INTO customer_identities (customer_id, source, external_id) ");
                b.push_values([()], |mut s, _| {
                    s.push_bind(kept).push_bind(m_source.clone()).push_bind(m_external.clone());
                });
                b.push(" ON CONFLICT (source, external_id) DO UPDATE SET customer_id = excluded.customer_id");
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                let change = $crate::MergeChange { before, after, filled }.encode();
                let mut b = Builder::new("INSERT INTO customer_merges (kept_id, merged_id, merged_at, actor, before) ");
                b.push_values([()], |mut s, _| {
                    s.push_bind(kept).push_bind(merged).push_bind(at).push_bind(actor.to_string()).push_bind(change.clone());
                });
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                audit(&mut tx, at, actor, "customer.merge", format!("customer:{kept}"), format!("merged customer #{merged} ({m_source}:{}) into #{kept}", dom::shown_id(&m_external))).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn unmerge(&self, merged: i64, actor: &str, at: chrono::DateTime<chrono::Utc>) -> $crate::Result<i64> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let (m_source, m_external, merged_into) = customer_row(&mut tx, merged).await?;
                let Some(kept) = merged_into else {
                    return Err($crate::StoreError::Refused(format!("customer #{merged} is not merged into anyone")));
                };
                let mut b = Builder::new("SELECT id, before FROM customer_merges WHERE undone_at IS NULL AND merged_id = ");
                b.push_bind(merged).push(" ORDER BY id DESC LIMIT 1");
                let row = b.build().fetch_optional(&mut *tx).await.map_err(db_err)?;
                let row = row.ok_or_else(|| corrupt(format!("customer #{merged} is merged but its merge is not recorded")))?;
                let merge_id: i64 = get(&row, "id")?;
                let change = $crate::MergeChange::decode(&get::<String>(&row, "before")?).map_err(corrupt)?;
                // Restore each channel the merge changed, unless it changed again since
                // (a later refusal must never be lost).
                let now = consents_of(&mut tx, kept).await?;
                let mut restored: Vec<dom::Consent> = Vec::new();
                for ch in dom::Channel::ALL {
                    let current = now.iter().find(|c| c.channel == *ch);
                    let set_by_merge = change.after.iter().find(|c| c.channel == *ch);
                    let before = change.before.iter().find(|c| c.channel == *ch);
                    let keep = if current == set_by_merge { before } else { current };
                    restored.extend(keep.cloned());
                }
                set_consents(&mut tx, kept, &restored).await?;
                unfill_contacts(&mut tx, kept, merged, &change.filled).await?;
                let mut b = Builder::new("UPDATE customers SET merged_into = NULL WHERE id = ");
                b.push_bind(merged);
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                let mut b = Builder::new("DELETE FROM customer_identities WHERE source = ");
                b.push_bind(m_source.clone()).push(" AND external_id = ").push_bind(m_external.clone());
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                let mut b = Builder::new("UPDATE customer_merges SET undone_at = ");
                b.push_bind(at).push(" WHERE id = ").push_bind(merge_id);
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                audit(&mut tx, at, actor, "customer.unmerge", format!("customer:{kept}"), format!("unmerged customer #{merged} ({m_source}:{}) from #{kept}", dom::shown_id(&m_external))).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(kept)
            }
        }
    };
}
