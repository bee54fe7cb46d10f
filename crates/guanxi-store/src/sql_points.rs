//! Points in SQL, written once for both backends: expanded inside
//! [`crate::sql_store!`] as the `Points` implementation of one store.

#[doc(hidden)]
#[macro_export]
macro_rules! sql_points {
    ($store:ident, $db:ty, $backend:expr) => {
        fn points_key(kind: &str, source: String, id: String) -> $crate::Result<guanxi_domain::points::Key> {
            Ok(guanxi_domain::points::Key {
                kind: guanxi_domain::points::Kind::parse(kind).map_err(corrupt)?,
                source,
                id,
            })
        }

        fn posted_from_row(r: &DbRow) -> $crate::Result<$crate::PostedPoints> {
            let kind: String = get(r, "kind")?;
            let event: String = get(r, "event")?;
            Ok($crate::PostedPoints {
                id: get(r, "id")?,
                customer_id: get(r, "customer_id")?,
                key: points_key(&kind, get(r, "source")?, get(r, "business_id")?)?,
                at: get(r, "at")?,
                event: $crate::points::event_of(&event).map_err(corrupt)?,
                actor: get(r, "actor")?,
            })
        }

        fn lot_sum_from_row(r: &DbRow) -> $crate::Result<$crate::LotSum> {
            let kind: Option<String> = get(r, "lot_kind")?;
            let lot = match kind {
                Some(k) => Some(points_key(
                    &k,
                    get::<Option<String>>(r, "lot_source")?.unwrap_or_default(),
                    get::<Option<String>>(r, "lot_id")?.unwrap_or_default(),
                )?),
                None => None,
            };
            Ok($crate::LotSum {
                customer_id: get(r, "customer_id")?,
                lot,
                points: get(r, "points")?,
            })
        }

        /// Inserts movements as (event id, member, movement), 7 parameters a row: well
        /// under either backend's limit at 2,000 rows a statement.
        async fn insert_movements(
            tx: &mut sqlx::Transaction<'_, $db>,
            rows: &[(i64, i64, &guanxi_domain::points::Movement)],
        ) -> $crate::Result<()> {
            for chunk in rows.chunks(2000) {
                let mut b = Builder::new(
                    "INSERT INTO points_movements (event_id, customer_id, lot_kind, lot_source, lot_id, points, at) ",
                );
                b.push_values(chunk, |mut s, (id, customer, m)| {
                    s.push_bind(*id)
                        .push_bind(*customer)
                        .push_bind(m.lot.as_ref().map(|l| l.kind.as_str()))
                        .push_bind(m.lot.as_ref().map(|l| l.source.clone()))
                        .push_bind(m.lot.as_ref().map(|l| l.id.clone()))
                        .push_bind(m.points)
                        .push_bind(m.at);
                });
                b.build().execute(&mut **tx).await.map_err(db_err)?;
            }
            Ok(())
        }

        const POSTED_COLUMNS: &str = "id, customer_id, kind, source, business_id, at, event, actor";

        #[async_trait::async_trait]
        impl $crate::Points for $store {
            async fn points_orders(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
                after: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::PointsOrder>> {
                // The first page starts at the window's first order, found by the paid and
                // refunded times' indexes: walking the orders by id from the first (10M
                // orders, a 35-day window at the end) read the whole table from disk at
                // every start of `guanxi serve` (34 s).
                let after = if after > 0 {
                    after
                } else {
                    let mut b = Builder::new("SELECT min(first) AS first FROM (SELECT min(id) AS first FROM orders WHERE paid_at >= ");
                    b.push_bind(from)
                        .push(" AND paid_at < ")
                        .push_bind(to)
                        .push(" UNION ALL SELECT min(id) AS first FROM orders WHERE refunded_at >= ")
                        .push_bind(from)
                        .push(" AND refunded_at < ")
                        .push_bind(to)
                        .push(") w");
                    let row = b.build().fetch_one(&self.pool).await.map_err(db_err)?;
                    match get::<Option<i64>>(&row, "first")? {
                        Some(first) => first - 1,
                        None => return Ok(Vec::new()),
                    }
                };
                let mut b = Builder::new(
                    "SELECT o.id, COALESCE(c.merged_into, c.id) AS customer_id, o.source, o.external_id, o.paid_at, \
                     o.paid_cents, o.refunded_at, o.refund_cents FROM orders o JOIN customers c ON c.id = o.customer_id \
                     WHERE o.id > ",
                );
                b.push_bind(after)
                    .push(" AND ((o.paid_at >= ")
                    .push_bind(from)
                    .push(" AND o.paid_at < ")
                    .push_bind(to)
                    .push(") OR (o.refunded_at >= ")
                    .push_bind(from)
                    .push(" AND o.refunded_at < ")
                    .push_bind(to)
                    .push(")) ORDER BY o.id LIMIT ")
                    .push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                    Ok($crate::PointsOrder {
                        id: get(r, "id")?,
                        customer_id: get(r, "customer_id")?,
                        source: get(r, "source")?,
                        external_id: get(r, "external_id")?,
                        paid_at: get(r, "paid_at")?,
                        paid_cents: get(r, "paid_cents")?,
                        refunded_at: get(r, "refunded_at")?,
                        refund_cents: get(r, "refund_cents")?,
                    })
                })
                .await
            }

            async fn points_events(&self, customer_id: i64) -> $crate::Result<Vec<$crate::PostedPoints>> {
                let mut b = Builder::new(format!("SELECT {POSTED_COLUMNS} FROM points_events WHERE customer_id = "));
                b.push_bind(customer_id).push(" ORDER BY id");
                rows_of(&self.pool, b, posted_from_row).await
            }

            async fn append_points(&self, new: &$crate::NewPoints<'_>) -> $crate::Result<$crate::Appended> {
                let $crate::NewPoints {
                    customer_id,
                    last,
                    key,
                    at,
                    event,
                    movements,
                    actor,
                } = *new;
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // Appends of one member take turns, so that the check below sees every
                // event committed before: PostgreSQL locks the member's row; SQLite takes
                // its one write lock now (a write that changes nothing) rather than at the
                // insert, where a stale read would fail instead of waiting.
                let lock = if matches!($backend, $crate::Backend::Postgres) {
                    let mut b = Builder::new("SELECT id FROM customers WHERE id = ");
                    b.push_bind(customer_id).push(" FOR UPDATE");
                    b
                } else {
                    Builder::new("UPDATE points_events SET actor = actor WHERE 0 = 1")
                };
                let mut lock = lock;
                lock.build().execute(&mut *tx).await.map_err(db_err)?;
                let mut b = Builder::new("SELECT MAX(id) AS last FROM points_events WHERE customer_id = ");
                b.push_bind(customer_id);
                let now_last: Option<i64> = get(&b.build().fetch_one(&mut *tx).await.map_err(db_err)?, "last")?;
                if now_last != last {
                    return Ok($crate::Appended::Conflict);
                }
                let text = $crate::points::event_text(event);
                let mut b = Builder::new(
                    "INSERT INTO points_events (customer_id, kind, source, business_id, at, event, actor) ",
                );
                b.push_values([()], |mut s, _| {
                    s.push_bind(customer_id)
                        .push_bind(key.kind.as_str())
                        .push_bind(key.source.clone())
                        .push_bind(key.id.clone())
                        .push_bind(at)
                        .push_bind(text.clone())
                        .push_bind(actor.to_string());
                });
                b.push(" ON CONFLICT (customer_id, kind, source, business_id) DO NOTHING RETURNING id");
                let Some(row) = b.build().fetch_optional(&mut *tx).await.map_err(db_err)? else {
                    return Ok($crate::Appended::Replayed);
                };
                let id: i64 = get(&row, "id")?;
                let rows: Vec<(i64, i64, &guanxi_domain::points::Movement)> =
                    movements.iter().map(|m| (id, customer_id, m)).collect();
                insert_movements(&mut tx, &rows).await?;
                tx.commit().await.map_err(db_err)?;
                Ok($crate::Appended::Posted)
            }

            async fn append_points_batch(&self, batch: &[$crate::NewPoints<'_>]) -> $crate::Result<u64> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut appended = 0;
                // 7 parameters an event, 7 a movement: well under either backend's limit.
                for chunk in batch.chunks(2000) {
                    let mut b = Builder::new(
                        "INSERT INTO points_events (customer_id, kind, source, business_id, at, event, actor) ",
                    );
                    b.push_values(chunk, |mut s, p| {
                        s.push_bind(p.customer_id)
                            .push_bind(p.key.kind.as_str())
                            .push_bind(p.key.source.clone())
                            .push_bind(p.key.id.clone())
                            .push_bind(p.at)
                            .push_bind($crate::points::event_text(p.event))
                            .push_bind(p.actor.to_string());
                    });
                    b.push(
                        " ON CONFLICT (customer_id, kind, source, business_id) DO NOTHING \
                         RETURNING id, customer_id, kind, source, business_id",
                    );
                    let mut ids = std::collections::HashMap::new();
                    for r in b.build().fetch_all(&mut *tx).await.map_err(db_err)? {
                        let kind: String = get(&r, "kind")?;
                        let key = points_key(&kind, get(&r, "source")?, get(&r, "business_id")?)?;
                        ids.insert((get::<i64>(&r, "customer_id")?, key), get::<i64>(&r, "id")?);
                    }
                    appended += ids.len() as u64;
                    let rows: Vec<(i64, i64, &guanxi_domain::points::Movement)> = chunk
                        .iter()
                        .filter_map(|p| ids.get(&(p.customer_id, p.key.clone())).map(|id| (*id, p)))
                        .flat_map(|(id, p)| p.movements.iter().map(move |m| (id, p.customer_id, m)))
                        .collect();
                    insert_movements(&mut tx, &rows).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(appended)
            }

            async fn points_posted(
                &self,
                keys: &[(i64, guanxi_domain::points::Key)],
            ) -> $crate::Result<std::collections::HashSet<(i64, guanxi_domain::points::Key)>> {
                let mut out = std::collections::HashSet::new();
                for chunk in keys.chunks(500) {
                    let mut b = Builder::new(
                        "SELECT customer_id, kind, source, business_id FROM points_events WHERE ",
                    );
                    for (i, (customer, key)) in chunk.iter().enumerate() {
                        if i > 0 {
                            b.push(" OR ");
                        }
                        b.push("(customer_id = ")
                            .push_bind(*customer)
                            .push(" AND kind = ")
                            .push_bind(key.kind.as_str())
                            .push(" AND source = ")
                            .push_bind(key.source.clone())
                            .push(" AND business_id = ")
                            .push_bind(key.id.clone())
                            .push(")");
                    }
                    for r in b.build().fetch_all(&self.pool).await.map_err(db_err)? {
                        let kind: String = get(&r, "kind")?;
                        out.insert((
                            get(&r, "customer_id")?,
                            points_key(&kind, get(&r, "source")?, get(&r, "business_id")?)?,
                        ));
                    }
                }
                Ok(out)
            }

            async fn points_balances(&self, after: i64, limit: u32) -> $crate::Result<Vec<(i64, i64)>> {
                let mut b = Builder::new(
                    "SELECT customer_id, CAST(SUM(points) AS BIGINT) AS balance FROM points_movements WHERE customer_id > ",
                );
                b.push_bind(after)
                    .push(" GROUP BY customer_id ORDER BY customer_id LIMIT ")
                    .push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| Ok((get(r, "customer_id")?, get(r, "balance")?))).await
            }

            async fn points_ledger(
                &self,
                after: i64,
                upto: i64,
            ) -> $crate::Result<(Vec<$crate::PostedPoints>, Vec<$crate::LotSum>)> {
                let mut b = Builder::new(format!("SELECT {POSTED_COLUMNS} FROM points_events WHERE customer_id > "));
                b.push_bind(after)
                    .push(" AND customer_id <= ")
                    .push_bind(upto)
                    .push(" ORDER BY customer_id, id");
                let events = rows_of(&self.pool, b, posted_from_row).await?;
                let mut b = Builder::new(
                    "SELECT customer_id, lot_kind, lot_source, lot_id, CAST(SUM(points) AS BIGINT) AS points \
                     FROM points_movements WHERE customer_id > ",
                );
                b.push_bind(after)
                    .push(" AND customer_id <= ")
                    .push_bind(upto)
                    .push(" GROUP BY customer_id, lot_kind, lot_source, lot_id");
                let sums = rows_of(&self.pool, b, lot_sum_from_row).await?;
                Ok((events, sums))
            }

            async fn member_orders(&self, after: i64, limit: u32) -> $crate::Result<Vec<(i64, guanxi_domain::tier::Paid)>> {
                // The page's people walk the customers' key (people are the customers
                // not merged into another), each kept when it or a customer merged into
                // it has a paid order; then their orders by the buyer index. Grouping
                // every paid order by person for each page instead took 48 s a page at
                // 10M orders (sqlx's slow-statement log; a thousand pages for a million
                // members). `CROSS JOIN` keeps SQLite's join order (the page first): left
                // to itself it walked every paid order by time for the merged customers'
                // half (53 s a page, timed by hand with Python's sqlite3);
                // PostgreSQL plans a cross join and its conditions as any other join.
                let paid = "o.paid_at IS NOT NULL";
                let mut b =
                    Builder::new("WITH page AS (SELECT p.id FROM customers p WHERE p.merged_into IS NULL AND p.id > ");
                b.push_bind(after).push(format!(
                    " AND (EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = p.id AND {paid}) \
                     OR EXISTS (SELECT 1 FROM customers c CROSS JOIN orders o \
                     WHERE c.merged_into = p.id AND o.customer_id = c.id AND {paid})) ORDER BY p.id LIMIT "
                ));
                b.push_bind(i64::from(limit)).push(format!(
                    ") SELECT person, paid_at, cents FROM (\
                     SELECT page.id AS person, o.paid_at, o.paid_cents - o.refund_cents AS cents \
                     FROM page CROSS JOIN orders o WHERE o.customer_id = page.id AND {paid} \
                     UNION ALL \
                     SELECT page.id AS person, o.paid_at, o.paid_cents - o.refund_cents AS cents \
                     FROM page CROSS JOIN customers c CROSS JOIN orders o \
                     WHERE c.merged_into = page.id AND o.customer_id = c.id AND {paid}\
                     ) AS paid ORDER BY person, paid_at"
                ));
                rows_of(&self.pool, b, |r| {
                    Ok((
                        get(r, "person")?,
                        guanxi_domain::tier::Paid {
                            at: get(r, "paid_at")?,
                            cents: get(r, "cents")?,
                        },
                    ))
                })
                .await
            }

            async fn record_tiers(
                &self,
                changes: &[(i64, guanxi_domain::tier::Change, String)],
                warnings: &[(i64, guanxi_domain::tier::Warning, String)],
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<(u64, u64)> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let (mut new_changes, mut new_warnings) = (0, 0);
                for chunk in changes.chunks(2000) {
                    let mut b = Builder::new(
                        "INSERT INTO tier_changes (customer_id, at, from_tier, to_tier, tier_name, why, measure, recorded_at) ",
                    );
                    b.push_values(chunk, |mut s, (customer, c, name)| {
                        s.push_bind(*customer)
                            .push_bind(c.at)
                            .push_bind(c.from.map(|f| f as i64))
                            .push_bind(c.to as i64)
                            .push_bind(name.clone())
                            .push_bind(c.why.as_str())
                            .push_bind(c.measure)
                            .push_bind(at);
                    });
                    b.push(" ON CONFLICT (customer_id, at, to_tier) DO NOTHING");
                    new_changes += b.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                }
                for chunk in warnings.chunks(2000) {
                    let mut b = Builder::new(
                        "INSERT INTO tier_warnings (customer_id, evaluation, at, tier, tier_name, would_be, measure, recorded_at) ",
                    );
                    b.push_values(chunk, |mut s, (customer, w, name)| {
                        s.push_bind(*customer)
                            .push_bind(w.evaluation)
                            .push_bind(w.at)
                            .push_bind(w.tier as i64)
                            .push_bind(name.clone())
                            .push_bind(w.would_be as i64)
                            .push_bind(w.measure)
                            .push_bind(at);
                    });
                    b.push(" ON CONFLICT (customer_id, evaluation) DO NOTHING");
                    new_warnings += b.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                }
                tx.commit().await.map_err(db_err)?;
                Ok((new_changes, new_warnings))
            }

            async fn tier_changes(&self, customer_id: i64) -> $crate::Result<Vec<guanxi_domain::tier::Change>> {
                let mut b = Builder::new(
                    "SELECT at, from_tier, to_tier, why, measure FROM tier_changes WHERE customer_id = ",
                );
                b.push_bind(customer_id).push(" ORDER BY at, to_tier");
                rows_of(&self.pool, b, |r| {
                    let why: String = get(r, "why")?;
                    Ok(guanxi_domain::tier::Change {
                        at: get(r, "at")?,
                        from: get::<Option<i64>>(r, "from_tier")?.map(|f| f as usize),
                        to: get::<i64>(r, "to_tier")? as usize,
                        why: guanxi_domain::tier::Why::parse(&why).map_err(corrupt)?,
                        measure: get(r, "measure")?,
                    })
                })
                .await
            }

            async fn points_actions(&self, after: &str, limit: u32) -> $crate::Result<Vec<$crate::PointsAction>> {
                let mut b = Builder::new(
                    "SELECT ledger_key, customer_id, program, step, detail, due_at FROM program_actions \
                     WHERE action = 'points' AND done_at IS NULL AND ledger_key > ",
                );
                b.push_bind(after.to_string())
                    .push(" ORDER BY ledger_key LIMIT ")
                    .push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                    Ok($crate::PointsAction {
                        ledger_key: get(r, "ledger_key")?,
                        customer_id: get(r, "customer_id")?,
                        program: get(r, "program")?,
                        step: get(r, "step")?,
                        points: get(r, "detail")?,
                        due_at: get(r, "due_at")?,
                    })
                })
                .await
            }

            async fn points_actions_done(&self, keys: &[String], at: chrono::DateTime<chrono::Utc>) -> $crate::Result<()> {
                for chunk in keys.chunks(1000) {
                    let mut b = Builder::new("UPDATE program_actions SET done_at = ");
                    b.push_bind(at).push(" WHERE action = 'points' AND ledger_key IN (");
                    let mut list = b.separated(", ");
                    for k in chunk {
                        list.push_bind(k.clone());
                    }
                    b.push(")");
                    b.build().execute(&self.pool).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn current_tiers(&self, ids: &[i64]) -> $crate::Result<Vec<(i64, String)>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(1000) {
                    let mut b = Builder::new(
                        "SELECT t.customer_id, t.tier_name FROM tier_changes t WHERE t.customer_id IN (",
                    );
                    let mut list = b.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    b.push(
                        ") AND NOT EXISTS (SELECT 1 FROM tier_changes l WHERE l.customer_id = t.customer_id \
                         AND (l.at > t.at OR (l.at = t.at AND l.to_tier > t.to_tier)))",
                    );
                    out.extend(rows_of(&self.pool, b, |r| Ok((get(r, "customer_id")?, get(r, "tier_name")?))).await?);
                }
                Ok(out)
            }

            async fn points_members(&self, after: i64, limit: u32) -> $crate::Result<Vec<i64>> {
                let mut b = Builder::new("SELECT DISTINCT customer_id FROM points_events WHERE customer_id > ");
                b.push_bind(after)
                    .push(" ORDER BY customer_id LIMIT ")
                    .push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| get(r, "customer_id")).await
            }
        }
    };
}
