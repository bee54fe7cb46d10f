//! The outbox's SQL, written once for both backends: expanded inside [`crate::sql_store!`]
//! (so it shares its helpers) as the `Outbox` implementation of one store.

/// Order event columns the scheduler may ask for (a column name is never taken from input).
pub const EVENT_COLUMNS: &[&str] = &[
    "created_at",
    "paid_at",
    "shipped_at",
    "arrived_at",
    "signed_at",
    "completed_at",
    "closed_at",
    "refunded_at",
];

/// Rows per multi-row insert of messages (13 values each, under SQLite's bound limit).
pub const MESSAGES_PER_STATEMENT: usize = 500;

#[doc(hidden)]
#[macro_export]
macro_rules! sql_outbox {
    ($store:ident, $db:ty, $backend:expr) => {
        const ORDER_EVENT_SELECT: &str = "SELECT id, external_id, customer_id, created_at, paid_at, shipped_at, arrived_at, \
            signed_at, completed_at, closed_at, refunded_at FROM orders ";

        const CLAIMED_COLUMNS: &str =
            "id, ledger_key, customer_id, channel, program, step, template, priority, order_id, due_at, expires_at, attempts";

        fn order_events_from_row(r: &DbRow) -> $crate::Result<$crate::OrderEvents> {
            Ok($crate::OrderEvents {
                id: get(r, "id")?,
                external_id: get(r, "external_id")?,
                customer_id: get(r, "customer_id")?,
                created_at: get(r, "created_at")?,
                times: status_times(r)?,
            })
        }

        fn claimed_from_row(r: &DbRow) -> $crate::Result<$crate::Claimed> {
            let channel: String = get(r, "channel")?;
            let program: Option<String> = get(r, "program")?;
            let step: Option<String> = get(r, "step")?;
            let template: Option<String> = get(r, "template")?;
            let due: Option<chrono::DateTime<chrono::Utc>> = get(r, "due_at")?;
            let expires: Option<chrono::DateTime<chrono::Utc>> = get(r, "expires_at")?;
            Ok($crate::Claimed {
                id: get(r, "id")?,
                ledger_key: get(r, "ledger_key")?,
                customer_id: get(r, "customer_id")?,
                channel: dom::Channel::parse(&channel).map_err(corrupt)?,
                program: program.unwrap_or_default(),
                step: step.unwrap_or_default(),
                template: template.unwrap_or_default(),
                priority: $crate::outbox::priority_from_rank(get(r, "priority")?).map_err(corrupt)?,
                order_id: get(r, "order_id")?,
                due_at: due.ok_or_else(|| corrupt("a queued message without due_at"))?,
                expires_at: expires.ok_or_else(|| corrupt("a queued message without expires_at"))?,
                attempts: get(r, "attempts")?,
            })
        }

        /// Records consent withdrawn on a channel, with its evidence, audited.
        async fn withdraw_consent(
            conn: &mut Conn,
            customer: i64,
            channel: dom::Channel,
            at: chrono::DateTime<chrono::Utc>,
            evidence: &str,
        ) -> $crate::Result<()> {
            let mut b = Builder::new("INSERT INTO customer_consents (customer_id, channel, state, recorded_at, evidence) ");
            b.push_values([()], |mut s, _| {
                s.push_bind(customer)
                    .push_bind(channel.as_str())
                    .push_bind(dom::ConsentState::Denied.as_str())
                    .push_bind(at)
                    .push_bind(evidence.to_string());
            });
            b.push(
                " ON CONFLICT (customer_id, channel) DO UPDATE SET state = excluded.state, \
                 recorded_at = excluded.recorded_at, evidence = excluded.evidence",
            );
            b.build().execute(&mut *conn).await.map_err(db_err)?;
            audit(
                conn,
                at,
                "customer",
                "consent.withdraw",
                format!("customer:{customer}"),
                format!("{channel}: {evidence}"),
            )
            .await
        }

        #[async_trait::async_trait]
        impl $crate::Outbox for $store {
            async fn save_program(&self, p: &$crate::ProgramState, actor: &str) -> $crate::Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut b = Builder::new("INSERT INTO programs (name, definition, enabled, since, updated_at) ");
                b.push_values([()], |mut s, _| {
                    s.push_bind(p.name.clone())
                        .push_bind(p.definition.clone())
                        .push_bind(i64::from(p.enabled))
                        .push_bind(p.since)
                        .push_bind(p.updated_at);
                });
                b.push(
                    " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, enabled = excluded.enabled, \
                     since = excluded.since, updated_at = excluded.updated_at",
                );
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                let action = if p.enabled { "program.enable" } else { "program.disable" };
                let since = p.since.map(|t| t.to_rfc3339()).unwrap_or_default();
                audit(&mut *tx, p.updated_at, actor, action, format!("program:{}", p.name), format!("since {since}")).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn programs(&self) -> $crate::Result<Vec<$crate::ProgramState>> {
                let b = Builder::new("SELECT name, definition, enabled, since, updated_at FROM programs ORDER BY name");
                rows_of(&self.pool, b, |r| {
                    Ok($crate::ProgramState {
                        name: get(r, "name")?,
                        definition: get(r, "definition")?,
                        enabled: get::<i64>(r, "enabled")? != 0,
                        since: get(r, "since")?,
                        updated_at: get(r, "updated_at")?,
                    })
                })
                .await
            }

            async fn apply(&self, plan: &$crate::Plan) -> $crate::Result<u64> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let at = plan.at.unwrap_or_else(chrono::Utc::now);
                for chunk in plan.entered.chunks(q::ROWS_PER_STATEMENT) {
                    let mut b = Builder::new(
                        "INSERT INTO program_entries (program, customer_id, entered_at, started_at, occurrence) ",
                    );
                    b.push_values(chunk, |mut s, e| {
                        s.push_bind(e.program.clone())
                            .push_bind(e.customer_id)
                            .push_bind(at)
                            .push_bind(e.started_at)
                            .push_bind(e.occurrence.clone());
                    });
                    b.push(
                        " ON CONFLICT (program, customer_id) DO UPDATE SET entered_at = excluded.entered_at, \
                         started_at = excluded.started_at, occurrence = excluded.occurrence",
                    );
                    b.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                for (program, id) in &plan.left {
                    let mut b = Builder::new("DELETE FROM program_entries WHERE program = ");
                    b.push_bind(program.clone()).push(" AND customer_id = ").push_bind(*id);
                    b.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                let mut queued = 0;
                for chunk in plan.messages.chunks($crate::sql_outbox::MESSAGES_PER_STATEMENT) {
                    let mut b = Builder::new(
                        "INSERT INTO messages (customer_id, channel, program, step, template, status, ledger_key, queued_at, \
                         priority, order_id, due_at, expires_at, next_attempt_at) ",
                    );
                    b.push_values(chunk, |mut s, m| {
                        s.push_bind(m.customer_id)
                            .push_bind(m.channel.as_str())
                            .push_bind(m.program.clone())
                            .push_bind(m.step.clone())
                            .push_bind(m.template.clone())
                            .push_bind(dom::MessageStatus::Queued.as_str())
                            .push_bind(m.ledger_key.clone())
                            .push_bind(at)
                            .push_bind($crate::outbox::priority_rank(m.priority))
                            .push_bind(m.order_id)
                            .push_bind(m.due_at)
                            .push_bind(m.expires_at)
                            .push_bind(m.due_at);
                    });
                    b.push(" ON CONFLICT (ledger_key) DO NOTHING");
                    queued += b.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                }
                // The ledger keys new to the ledger, over every chunk: their coupons are issued.
                let mut decided: std::collections::HashSet<String> = std::collections::HashSet::new();
                let coupon_keys: std::collections::HashSet<&str> =
                    plan.coupons.iter().map(|(action, _)| action.as_str()).collect();
                for chunk in plan.actions.chunks($crate::sql_outbox::MESSAGES_PER_STATEMENT) {
                    let mut b = Builder::new(
                        "INSERT INTO program_actions (ledger_key, customer_id, program, step, action, detail, due_at, decided_at) ",
                    );
                    b.push_values(chunk, |mut s, a| {
                        s.push_bind(a.ledger_key.clone())
                            .push_bind(a.customer_id)
                            .push_bind(a.program.clone())
                            .push_bind(a.step.clone())
                            .push_bind(a.action)
                            .push_bind(a.detail.clone())
                            .push_bind(a.due_at)
                            .push_bind(at);
                    });
                    // Only the actions new to the ledger come back: each tag change happens once.
                    b.push(" ON CONFLICT (ledger_key) DO NOTHING RETURNING ledger_key");
                    let new: std::collections::HashSet<String> = b
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(|r| get::<String>(r, "ledger_key"))
                        .collect::<Result<_, _>>()?;
                    decided.extend(new.iter().filter(|k| coupon_keys.contains(k.as_str())).cloned());
                    for a in chunk.iter().filter(|a| new.contains(&a.ledger_key)) {
                        let change = match a.action {
                            "add-tag" => {
                                let mut b = Builder::new("INSERT INTO customer_tags (customer_id, tag) VALUES (");
                                b.push_bind(a.customer_id).push(", ").push_bind(a.detail.clone());
                                b.push(") ON CONFLICT (customer_id, tag) DO NOTHING");
                                Some(b)
                            }
                            "remove-tag" => {
                                let mut b = Builder::new("DELETE FROM customer_tags WHERE customer_id = ");
                                b.push_bind(a.customer_id).push(" AND tag = ").push_bind(a.detail.clone());
                                Some(b)
                            }
                            // Issued below, with the other coupons.
                            "coupon" | "benefit" if coupon_keys.contains(a.ledger_key.as_str()) => None,
                            _ => continue,
                        };
                        if let Some(mut b) = change {
                            b.build().execute(&mut *tx).await.map_err(db_err)?;
                        }
                        let mut b = Builder::new("UPDATE program_actions SET done_at = ");
                        b.push_bind(at).push(" WHERE ledger_key = ").push_bind(a.ledger_key.clone());
                        b.build().execute(&mut *tx).await.map_err(db_err)?;
                    }
                }
                let issued: Vec<&$crate::NewCoupon> = plan
                    .coupons
                    .iter()
                    .filter(|(action, _)| decided.contains(action))
                    .map(|(_, c)| c)
                    .collect();
                insert_coupons(&mut tx, &issued).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(queued)
            }

            async fn tasks(&self, all: bool, customer_id: Option<i64>, limit: u32) -> $crate::Result<Vec<$crate::Task>> {
                let mut b = Builder::new(
                    "SELECT a.ledger_key, a.customer_id, c.external_id, c.name, a.program, a.step, a.detail, \
                     a.due_at, a.decided_at, a.done_at FROM program_actions a JOIN customers c ON c.id = a.customer_id \
                     WHERE a.action = 'task'",
                );
                if !all {
                    b.push(" AND a.done_at IS NULL");
                }
                if let Some(id) = customer_id {
                    b.push(" AND a.customer_id = ").push_bind(id);
                }
                b.push(
                    " ORDER BY a.done_at IS NOT NULL, CASE WHEN a.done_at IS NULL THEN a.due_at END, \
                     a.done_at DESC, a.ledger_key LIMIT ",
                )
                .push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                    Ok($crate::Task {
                        key: get(r, "ledger_key")?,
                        customer_id: get(r, "customer_id")?,
                        customer_external_id: get(r, "external_id")?,
                        customer_name: get(r, "name")?,
                        program: get(r, "program")?,
                        step: get(r, "step")?,
                        task: get(r, "detail")?,
                        due_at: get(r, "due_at")?,
                        created_at: get(r, "decided_at")?,
                        done_at: get(r, "done_at")?,
                    })
                })
                .await
            }

            async fn close_task(
                &self,
                key: &str,
                at: chrono::DateTime<chrono::Utc>,
                actor: &str,
            ) -> $crate::Result<Option<String>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut b = Builder::new("UPDATE program_actions SET done_at = ");
                b.push_bind(at)
                    .push(" WHERE action = 'task' AND done_at IS NULL AND ledger_key = ")
                    .push_bind(key.to_string())
                    .push(" RETURNING customer_id, detail");
                let Some(row) = b.build().fetch_optional(&mut *tx).await.map_err(db_err)? else {
                    return Ok(None);
                };
                let customer: i64 = get(&row, "customer_id")?;
                let detail: String = get(&row, "detail")?;
                audit(&mut *tx, at, actor, "task.close", format!("customer:{customer}"), format!("{key}: {detail}")).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(Some(detail))
            }

            async fn action_counts(&self, program: Option<&str>) -> $crate::Result<Vec<(String, String, String, u64)>> {
                let mut b = Builder::new("SELECT program, step, action, COUNT(*) AS n FROM program_actions");
                if let Some(p) = program {
                    b.push(" WHERE program = ").push_bind(p.to_string());
                }
                b.push(" GROUP BY program, step, action ORDER BY 1, 2, 3");
                rows_of(&self.pool, b, |r| {
                    Ok((get(r, "program")?, get(r, "step")?, get(r, "action")?, get::<i64>(r, "n")? as u64))
                })
                .await
            }

            async fn ledger_has(&self, keys: &[String]) -> $crate::Result<std::collections::HashSet<String>> {
                let mut out = std::collections::HashSet::new();
                for chunk in keys.chunks(q::ROWS_PER_STATEMENT) {
                    let mut b = Builder::new("SELECT ledger_key FROM messages WHERE ledger_key IN (");
                    let mut sep = b.separated(", ");
                    for k in chunk {
                        sep.push_bind(k.clone());
                    }
                    b.push(") UNION SELECT ledger_key FROM program_actions WHERE ledger_key IN (");
                    let mut sep = b.separated(", ");
                    for k in chunk {
                        sep.push_bind(k.clone());
                    }
                    b.push(")");
                    for k in rows_of(&self.pool, b, |r| get::<String>(r, "ledger_key")).await? {
                        out.insert(k);
                    }
                }
                Ok(out)
            }

            async fn entries(&self, program: &str) -> $crate::Result<Vec<$crate::Entry>> {
                // Each backend reads them its own way (SQLite: rusqlite; a large segment
                // program has hundreds of thousands, read at every scheduler pass).
                self.read_entries(program).await
            }

            async fn orders_by_event(
                &self,
                event: &str,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
                after: Option<$crate::EventCursor>,
                limit: u32,
            ) -> $crate::Result<(Vec<$crate::OrderEvents>, Option<$crate::EventCursor>)> {
                let Some(column) = $crate::sql_outbox::EVENT_COLUMNS.iter().find(|c| **c == event) else {
                    return Err($crate::StoreError::Refused(format!("no order event column {event:?}")));
                };
                let mut b = Builder::new(format!(
                    "SELECT {column} AS event_at, {} WHERE {column} >= ",
                    &ORDER_EVENT_SELECT["SELECT ".len()..]
                ));
                b.push_bind(from);
                b.push(format!(" AND {column} <= ")).push_bind(to);
                // A guest order has nobody to reach.
                b.push(" AND customer_id IS NOT NULL");
                if let Some(c) = after {
                    b.push(format!(" AND ({column} > ")).push_bind(c.at);
                    b.push(format!(" OR ({column} = ")).push_bind(c.at);
                    b.push(" AND id > ").push_bind(c.id).push("))");
                }
                b.push(format!(" ORDER BY {column}, id LIMIT ")).push_bind(i64::from(limit));
                let rows = b.build().fetch_all(&self.pool).await.map_err(db_err)?;
                let cursor = match rows.last() {
                    Some(r) => Some($crate::EventCursor {
                        at: get(r, "event_at")?,
                        id: get(r, "id")?,
                    }),
                    None => None,
                };
                let page = rows.iter().map(order_events_from_row).collect::<$crate::Result<Vec<_>>>()?;
                Ok((page, cursor))
            }

            async fn order_events(&self, ids: &[i64]) -> $crate::Result<HashMap<i64, $crate::OrderEvents>> {
                let mut out = HashMap::new();
                for chunk in ids.chunks(q::ROWS_PER_STATEMENT) {
                    let mut b = Builder::new(ORDER_EVENT_SELECT);
                    b.push("WHERE id IN (");
                    let mut sep = b.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    b.push(")");
                    for o in rows_of(&self.pool, b, order_events_from_row).await? {
                        out.insert(o.id, o);
                    }
                }
                Ok(out)
            }

            async fn order_items(&self, ids: &[i64]) -> $crate::Result<HashMap<i64, Vec<(String, u32)>>> {
                let mut out: HashMap<i64, Vec<(String, u32)>> = HashMap::new();
                for chunk in ids.chunks(q::ROWS_PER_STATEMENT) {
                    let mut b = Builder::new(
                        "SELECT order_id, COALESCE(title, sku, '?') AS item, quantity FROM order_lines WHERE order_id IN (",
                    );
                    let mut sep = b.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    b.push(") ORDER BY order_id, line_no");
                    for r in b.build().fetch_all(&self.pool).await.map_err(db_err)? {
                        let quantity: i64 = get(&r, "quantity")?;
                        out.entry(get(&r, "order_id")?)
                            .or_default()
                            .push((get(&r, "item")?, u32::try_from(quantity).map_err(corrupt)?));
                    }
                }
                Ok(out)
            }

            async fn entered_class(
                &self,
                kind: &str,
                class: &str,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Vec<(i64, i64, chrono::DateTime<chrono::Utc>)>> {
                // Tiers: a change into tier `class` (`*`: any), or a warning of losing it;
                // its occurrence is the change's moment (the evaluation's, for a warning).
                let tiers = match kind {
                    "tier" => Some("SELECT customer_id, at AS occurrence, at FROM tier_changes WHERE "),
                    "tier-warning" => Some("SELECT customer_id, evaluation AS occurrence, at FROM tier_warnings WHERE "),
                    _ => None,
                };
                if let Some(select) = tiers {
                    let mut b = Builder::new(select);
                    if class == "*" {
                        b.push("1 = 1");
                    } else {
                        b.push("tier_name = ").push_bind(class.to_string());
                    }
                    b.push(" AND at >= ").push_bind(from).push(" AND at <= ").push_bind(to);
                    b.push(" ORDER BY customer_id, at");
                    return rows_of(&self.pool, b, |r| {
                        let occurrence: chrono::DateTime<chrono::Utc> = get(r, "occurrence")?;
                        Ok((get(r, "customer_id")?, occurrence.timestamp(), get(r, "at")?))
                    })
                    .await;
                }
                let mut b = Builder::new("SELECT customer_id, build_id, as_of FROM class_transitions WHERE kind = ");
                b.push_bind(kind.to_string()).push(" AND to_class = ").push_bind(class.to_string());
                b.push(" AND as_of >= ").push_bind(from).push(" AND as_of <= ").push_bind(to);
                b.push(" ORDER BY customer_id");
                rows_of(&self.pool, b, |r| Ok((get(r, "customer_id")?, get(r, "build_id")?, get(r, "as_of")?))).await
            }

            async fn paid_since(
                &self,
                ids: &[i64],
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Vec<(i64, chrono::DateTime<chrono::Utc>)>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(q::ROWS_PER_STATEMENT) {
                    let mut b = Builder::new("SELECT customer_id, paid_at FROM orders WHERE paid_at > ");
                    b.push_bind(since).push(" AND customer_id IN (");
                    let mut sep = b.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    b.push(")");
                    out.extend(rows_of(&self.pool, b, |r| Ok((get(r, "customer_id")?, get(r, "paid_at")?))).await?);
                }
                Ok(out)
            }

            async fn birthdays(&self, month: u32, day: u32) -> $crate::Result<Vec<i64>> {
                let mut b = Builder::new("SELECT id FROM customers WHERE merged_into IS NULL AND birthday IS NOT NULL AND ");
                if matches!($backend, $crate::Backend::Postgres) {
                    b.push("CAST(EXTRACT(MONTH FROM birthday) AS BIGINT) = ").push_bind(i64::from(month));
                    b.push(" AND CAST(EXTRACT(DAY FROM birthday) AS BIGINT) = ").push_bind(i64::from(day));
                } else {
                    b.push("substr(birthday, 6, 5) = ").push_bind(format!("{month:02}-{day:02}"));
                }
                b.push(" ORDER BY id");
                rows_of(&self.pool, b, |r| get::<i64>(r, "id")).await
            }

            async fn claim(
                &self,
                worker: &str,
                due_by: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
                lease: chrono::Duration,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::Claimed>> {
                // One statement: the rows are chosen and marked together, so two workers
                // cannot take the same row (SQLite: writes are serialised; PostgreSQL: rows
                // another worker is taking are skipped, not waited for).
                let lock = if matches!($backend, $crate::Backend::Postgres) { " FOR UPDATE SKIP LOCKED" } else { "" };
                let mut b = Builder::new("UPDATE messages SET claimed_by = ");
                b.push_bind(worker.to_string()).push(", claimed_until = ").push_bind(now + lease);
                b.push(" WHERE id IN (SELECT id FROM messages WHERE status = 'queued' AND next_attempt_at <= ").push_bind(due_by);
                b.push(" AND (claimed_until IS NULL OR claimed_until < ").push_bind(now);
                b.push(") ORDER BY priority, next_attempt_at LIMIT ").push_bind(i64::from(limit));
                b.push(format!("{lock}) RETURNING {CLAIMED_COLUMNS}"));
                let mut claimed = rows_of(&self.pool, b, claimed_from_row).await?;
                claimed.sort_by_key(|c| (c.priority, c.due_at, c.id));
                Ok(claimed)
            }

            async fn recipients(
                &self,
                ids: &[i64],
                today: chrono::DateTime<chrono::Utc>,
                week: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<HashMap<i64, $crate::Recipient>> {
                let mut out: HashMap<i64, $crate::Recipient> = HashMap::new();
                let mut ids = ids.to_vec();
                ids.sort_unstable();
                ids.dedup();
                let ids_in = |b: &mut Builder, chunk: &[i64]| {
                    let mut sep = b.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    b.push(")");
                };
                for chunk in ids.chunks(q::ROWS_PER_STATEMENT) {
                    let mut b = Builder::new(
                        "SELECT id, name, mobile, email, wechat, max_messages_per_week FROM customers WHERE id IN (",
                    );
                    ids_in(&mut b, chunk);
                    for r in b.build().fetch_all(&self.pool).await.map_err(db_err)? {
                        let id: i64 = get(&r, "id")?;
                        let tolerance: Option<i64> = get(&r, "max_messages_per_week")?;
                        out.insert(
                            id,
                            $crate::Recipient {
                                customer_id: id,
                                name: get(&r, "name")?,
                                mobile: get(&r, "mobile")?,
                                email: get(&r, "email")?,
                                wechat: get(&r, "wechat")?,
                                tolerance_per_week: tolerance.and_then(|t| u16::try_from(t).ok()),
                                ..Default::default()
                            },
                        );
                    }
                    let mut b = Builder::new("SELECT customer_id, channel, state FROM customer_consents WHERE customer_id IN (");
                    ids_in(&mut b, chunk);
                    for r in b.build().fetch_all(&self.pool).await.map_err(db_err)? {
                        let (id, ch, st): (i64, String, String) = (get(&r, "customer_id")?, get(&r, "channel")?, get(&r, "state")?);
                        if let Some(rec) = out.get_mut(&id) {
                            rec.consents.push((
                                dom::Channel::parse(&ch).map_err(corrupt)?,
                                dom::ConsentState::parse(&st).map_err(corrupt)?,
                            ));
                        }
                    }
                    let mut b = Builder::new(
                        "SELECT DISTINCT customer_id FROM service_records WHERE kind IN ('complaint', 'dispute') \
                         AND status = 'open' AND customer_id IN (",
                    );
                    ids_in(&mut b, chunk);
                    for r in b.build().fetch_all(&self.pool).await.map_err(db_err)? {
                        if let Some(rec) = out.get_mut(&get::<i64>(&r, "customer_id")?) {
                            rec.open_complaint = true;
                        }
                    }
                    let mut b = Builder::new("SELECT customer_id, channel, sent_at FROM messages WHERE sent_at >= ");
                    b.push_bind(week.min(today)).push(" AND customer_id IN (");
                    ids_in(&mut b, chunk);
                    for r in b.build().fetch_all(&self.pool).await.map_err(db_err)? {
                        let id: i64 = get(&r, "customer_id")?;
                        let ch: String = get(&r, "channel")?;
                        let at: chrono::DateTime<chrono::Utc> = get(&r, "sent_at")?;
                        let ch = dom::Channel::parse(&ch).map_err(corrupt)?;
                        if let Some(rec) = out.get_mut(&id) {
                            let (t, w) = (u32::from(at >= today), u32::from(at >= week));
                            match rec.sent.iter_mut().find(|s| s.0 == ch) {
                                Some(s) => {
                                    s.1 += t;
                                    s.2 += w;
                                }
                                None => rec.sent.push((ch, t, w)),
                            }
                        }
                    }
                }
                Ok(out)
            }

            async fn settle(&self, settled: &[(i64, $crate::Settle)]) -> $crate::Result<()> {
                use $crate::Settle;
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // Sent messages (nearly all of a batch) in one statement per moment.
                let mut sent: std::collections::BTreeMap<chrono::DateTime<chrono::Utc>, Vec<i64>> = Default::default();
                for (id, s) in settled {
                    let mut b = match s {
                        Settle::Sent { at } => {
                            sent.entry(*at).or_default().push(*id);
                            continue;
                        }
                        Settle::Deferred { until, reason } => {
                            let mut b = Builder::new("UPDATE messages SET next_attempt_at = ");
                            b.push_bind(*until).push(", last_error = ").push_bind(reason.clone());
                            b
                        }
                        Settle::Dropped { at, reason } => {
                            let mut b = Builder::new("UPDATE messages SET status = 'dropped', failed_at = ");
                            b.push_bind(*at).push(", last_error = ").push_bind(reason.clone());
                            b
                        }
                        Settle::Retry { at, error } => {
                            let mut b = Builder::new("UPDATE messages SET attempts = attempts + 1, next_attempt_at = ");
                            b.push_bind(*at).push(", last_error = ").push_bind(error.clone());
                            b
                        }
                        Settle::Dead { at, error } => {
                            let mut b = Builder::new("UPDATE messages SET status = 'failed', attempts = attempts + 1, failed_at = ");
                            b.push_bind(*at).push(", last_error = ").push_bind(error.clone());
                            b
                        }
                    };
                    b.push(", claimed_by = NULL, claimed_until = NULL WHERE status = 'queued' AND id = ").push_bind(*id);
                    b.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                for (at, ids) in sent {
                    for chunk in ids.chunks(q::ROWS_PER_STATEMENT) {
                        let mut b = Builder::new("UPDATE messages SET status = 'sent', sent_at = ");
                        b.push_bind(at).push(", claimed_by = NULL, claimed_until = NULL WHERE status = 'queued' AND id IN (");
                        let mut sep = b.separated(", ");
                        for id in chunk {
                            sep.push_bind(*id);
                        }
                        b.push(")");
                        b.build().execute(&mut *tx).await.map_err(db_err)?;
                    }
                }
                tx.commit().await.map_err(db_err)
            }

            async fn message_counts(&self, program: Option<&str>) -> $crate::Result<Vec<$crate::MessageCount>> {
                let mut b = Builder::new(
                    "SELECT COALESCE(program, '') AS program, COALESCE(step, '') AS step, channel, status, COUNT(*) AS n \
                     FROM messages",
                );
                if let Some(p) = program {
                    b.push(" WHERE program = ").push_bind(p.to_string());
                }
                b.push(" GROUP BY COALESCE(program, ''), COALESCE(step, ''), channel, status ORDER BY 1, 2, 3, 4");
                rows_of(&self.pool, b, |r| {
                    let ch: String = get(r, "channel")?;
                    let st: String = get(r, "status")?;
                    Ok($crate::MessageCount {
                        program: get(r, "program")?,
                        step: get(r, "step")?,
                        channel: dom::Channel::parse(&ch).map_err(corrupt)?,
                        status: dom::MessageStatus::parse(&st).map_err(corrupt)?,
                        count: get::<i64>(r, "n")? as u64,
                    })
                })
                .await
            }

            async fn sent_messages(&self, program: &str) -> $crate::Result<Vec<$crate::SentMessage>> {
                let mut b = Builder::new(
                    "SELECT COALESCE(m.step, '') AS step, m.sent_at, m.clicked_at, \
                     (SELECT MIN(o.paid_at) FROM orders o WHERE o.customer_id = m.customer_id AND o.paid_at > m.sent_at) AS next_paid \
                     FROM messages m WHERE m.sent_at IS NOT NULL AND m.program = ",
                );
                b.push_bind(program.to_string());
                rows_of(&self.pool, b, |r| {
                    let clicked: Option<chrono::DateTime<chrono::Utc>> = get(r, "clicked_at")?;
                    Ok($crate::SentMessage {
                        program: program.to_string(),
                        step: get(r, "step")?,
                        sent_at: get(r, "sent_at")?,
                        clicked: clicked.is_some(),
                        next_paid_at: get(r, "next_paid")?,
                    })
                })
                .await
            }

            async fn step_arms(&self, program: &str) -> $crate::Result<Vec<$crate::StepArm>> {
                let next_paid = |alias: &str| {
                    format!(
                        "(SELECT MIN(o.paid_at) FROM orders o WHERE o.customer_id = {alias}.customer_id AND o.paid_at > {alias}.due_at)"
                    )
                };
                let mut b = Builder::new(format!(
                    "SELECT COALESCE(m.step, '') AS step, FALSE AS held, m.due_at, {} AS next_paid \
                     FROM messages m WHERE m.due_at IS NOT NULL AND m.program = ",
                    next_paid("m")
                ));
                b.push_bind(program.to_string());
                b.push(format!(
                    " UNION ALL SELECT a.step, TRUE, a.due_at, {} FROM program_actions a \
                     WHERE a.action = 'holdout' AND a.program = ",
                    next_paid("a")
                ));
                b.push_bind(program.to_string());
                rows_of(&self.pool, b, |r| {
                    Ok($crate::StepArm {
                        step: get(r, "step")?,
                        held: get(r, "held")?,
                        due_at: get(r, "due_at")?,
                        next_paid_at: get(r, "next_paid")?,
                    })
                })
                .await
            }

            async fn record_receipt(
                &self,
                key: &str,
                delivered: bool,
                at: chrono::DateTime<chrono::Utc>,
                detail: &str,
            ) -> $crate::Result<bool> {
                let mut b = if delivered {
                    let mut b = Builder::new("UPDATE messages SET delivered_at = COALESCE(delivered_at, ");
                    b.push_bind(at);
                    b.push("), status = CASE WHEN status = 'sent' THEN 'delivered' ELSE status END WHERE sent_at IS NOT NULL");
                    b
                } else {
                    let mut b = Builder::new("UPDATE messages SET status = 'failed', failed_at = ");
                    b.push_bind(at).push(", last_error = ").push_bind(format!("provider: {detail}"));
                    b.push(" WHERE status IN ('sent', 'delivered')");
                    b
                };
                b.push(" AND ledger_key = ").push_bind(key.to_string());
                Ok(b.build().execute(&self.pool).await.map_err(db_err)?.rows_affected() > 0)
            }

            async fn record_click(&self, id: i64, at: chrono::DateTime<chrono::Utc>) -> $crate::Result<bool> {
                let mut b = Builder::new("UPDATE messages SET clicked_at = COALESCE(clicked_at, ");
                b.push_bind(at);
                b.push("), status = CASE WHEN status IN ('sent', 'delivered') THEN 'clicked' ELSE status END WHERE sent_at IS NOT NULL AND id = ");
                b.push_bind(id);
                Ok(b.build().execute(&self.pool).await.map_err(db_err)?.rows_affected() > 0)
            }

            async fn unsubscribe(&self, id: i64, at: chrono::DateTime<chrono::Utc>) -> $crate::Result<Option<i64>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut b = Builder::new("SELECT customer_id, channel FROM messages WHERE sent_at IS NOT NULL AND id = ");
                b.push_bind(id);
                let Some(row) = b.build().fetch_optional(&mut *tx).await.map_err(db_err)? else {
                    return Ok(None);
                };
                let customer: i64 = get(&row, "customer_id")?;
                let channel: String = get(&row, "channel")?;
                let channel = dom::Channel::parse(&channel).map_err(corrupt)?;
                withdraw_consent(&mut *tx, customer, channel, at, &format!("unsubscribe link in message #{id}")).await?;
                let mut b = Builder::new("UPDATE messages SET status = 'unsubscribed', unsubscribed_at = ");
                b.push_bind(at).push(" WHERE id = ").push_bind(id);
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(Some(customer))
            }

            async fn opt_out(
                &self,
                channel: dom::Channel,
                mobile: &str,
                at: chrono::DateTime<chrono::Utc>,
                evidence: &str,
            ) -> $crate::Result<Vec<i64>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut b = Builder::new("SELECT id FROM customers WHERE merged_into IS NULL AND mobile = ");
                b.push_bind(mobile.to_string()).push(" ORDER BY id");
                let ids: Vec<i64> = b
                    .build()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|r| get::<i64>(r, "id"))
                    .collect::<Result<_, _>>()?;
                for id in &ids {
                    withdraw_consent(&mut *tx, *id, channel, at, evidence).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(ids)
            }
        }
    };
}
