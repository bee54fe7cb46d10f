//! The writes' SQL for backends that run it through sqlx: [`sql_store_tx!`] expands to
//! the `StoreTx` implementation (imports) and the store's `write_build` (profile builds), in the module where [`crate::sql_store!`] was
//! expanded (it uses that expansion's helpers: `db_err`, `get`, `push_in`). SQLite runs its
//! own write path (rusqlite, in its crate); PostgreSQL runs this one.

#[macro_export]
macro_rules! sql_store_tx {
    ($store:ident, $tx:ident, $db:ty) => {
        fn key_pair(source: &dom::Source, id: &str) -> (String, String) {
            (source.as_str().to_string(), id.to_string())
        }

        /// Pushes `((source = ? AND external_id IN (?, …)) OR …)`, one term per source.
        /// A plain `IN` list on the leading column of the unique (external_id, source)
        /// index, so that PostgreSQL looks each key up in the index: with row values, or
        /// with `source` leading, it filtered every row of the source per batch (CDNOW's
        /// 70,000 orders took 52 s instead of 2 s).
        fn push_keys_in<'k>(b: &mut Builder, keys: impl Iterator<Item = (&'k str, &'k str)>) {
            let mut by_source: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for (s, id) in keys {
                by_source.entry(s).or_default().push(id);
            }
            b.push("(");
            for (n, (source, ids)) in by_source.into_iter().enumerate() {
                if n > 0 {
                    b.push(" OR ");
                }
                b.push("(source = ").push_bind(source.to_string()).push(" AND external_id IN (");
                push_in(b, ids.into_iter().map(|id| id.to_string()));
                b.push(")");
            }
            b.push(")");
        }

        /// Internal id and fingerprint of the records of `table` with these keys.
        async fn existing(
            conn: &mut Conn,
            table: &str,
            keys: &[(String, String)],
        ) -> $crate::Result<HashMap<(String, String), (i64, i64)>> {
            let mut out = HashMap::with_capacity(keys.len());
            for chunk in keys.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new(format!("SELECT id, source, external_id, content_hash FROM {table} WHERE "));
                push_keys_in(&mut b, chunk.iter().map(|(s, i)| (s.as_str(), i.as_str())));
                for row in b.build().fetch_all(&mut *conn).await.map_err(db_err)? {
                    out.insert(
                        (get(&row, "source")?, get(&row, "external_id")?),
                        (get(&row, "id")?, get(&row, "content_hash")?),
                    );
                }
            }
            Ok(out)
        }

        /// Ids of these customers, creating bare ones for keys not yet known.
        async fn ensure_customers<'k>(
            conn: &mut Conn,
            keys: impl Iterator<Item = &'k dom::CustomerKey>,
        ) -> $crate::Result<(HashMap<(String, String), i64>, u64)> {
            let keys: BTreeSet<&dom::CustomerKey> = keys.collect();
            let keys: Vec<&dom::CustomerKey> = keys.into_iter().collect();
            let mut ids = HashMap::with_capacity(keys.len());
            let mut inserted = 0;
            for chunk in keys.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new("INSERT INTO customers (source, external_id, content_hash) ");
                b.push_values(chunk, |mut s, k| {
                    s.push_bind(k.source.as_str().to_string())
                        .push_bind(k.external_id.clone())
                        .push_bind(dom::Customer::bare((*k).clone()).fingerprint());
                });
                b.push(" ON CONFLICT (external_id, source) DO NOTHING");
                inserted += b.build().execute(&mut *conn).await.map_err(db_err)?.rows_affected();
                let mut b = Builder::new("SELECT id, source, external_id FROM customers WHERE ");
                push_keys_in(&mut b, chunk.iter().map(|k| (k.source.as_str(), k.external_id.as_str())));
                for row in b.build().fetch_all(&mut *conn).await.map_err(db_err)? {
                    ids.insert((get(&row, "source")?, get(&row, "external_id")?), get(&row, "id")?);
                }
            }
            Ok((ids, inserted))
        }

        fn customer_id(ids: &HashMap<(String, String), i64>, k: &dom::CustomerKey) -> $crate::Result<i64> {
            ids.get(&key_pair(&k.source, &k.external_id))
                .copied()
                .ok_or_else(|| $crate::StoreError::Database(format!("customer {}:{} vanished during the write", k.source, k.external_id)))
        }

        /// Runs an upsert built by `push` for `rows` and returns key → id of each row written.
        async fn upsert_rows<T>(
            conn: &mut Conn,
            head: &str,
            tail: &str,
            rows: &[T],
            mut push: impl FnMut(sqlx::query_builder::Separated<'_, $db, &'static str>, &T),
        ) -> $crate::Result<HashMap<(String, String), i64>> {
            let mut ids = HashMap::with_capacity(rows.len());
            for chunk in rows.chunks(q::ROWS_PER_STATEMENT / 2) {
                let mut b = Builder::new(head);
                b.push_values(chunk, |s, r| push(s, r));
                b.push(tail);
                for row in b.build().fetch_all(&mut *conn).await.map_err(db_err)? {
                    ids.insert((get(&row, "source")?, get(&row, "external_id")?), get(&row, "id")?);
                }
            }
            Ok(ids)
        }

        async fn delete_children(conn: &mut Conn, table: &str, column: &str, ids: &[i64]) -> $crate::Result<()> {
            for chunk in ids.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new(format!("DELETE FROM {table} WHERE {column} IN ("));
                push_in(&mut b, chunk.iter().copied());
                b.build().execute(&mut *conn).await.map_err(db_err)?;
            }
            Ok(())
        }

        fn cents(c: dom::Cents) -> i64 {
            c.0
        }

        /// Sorts a batch against what the store holds: each record's outcome, and the new or
        /// changed records with their fingerprints (the ones to write).
        async fn plan<'a, T>(
            conn: &mut Conn,
            table: &str,
            records: &'a [T],
            key: impl Fn(&T) -> (String, String),
            fingerprint: impl Fn(&T) -> i64,
        ) -> $crate::Result<(Vec<Outcome>, Vec<(i64, &'a T)>)> {
            let keys: Vec<(String, String)> = records.iter().map(&key).collect();
            let existing = existing(conn, table, &keys).await?;
            let classified = $crate::classify(records, key, fingerprint, &existing);
            let outcomes = classified.iter().map(|(o, _, _)| *o).collect();
            let to_write =
                classified.into_iter().filter(|(o, _, _)| *o != Outcome::Unchanged).map(|(_, fp, r)| (fp, r)).collect();
            Ok((outcomes, to_write))
        }

        /// Attaches the internal id of each record's customer, creating bare customers not
        /// yet known; returns the rows and how many customers were created.
        async fn with_customer_ids<'a, T>(
            conn: &mut Conn,
            records: Vec<(i64, &'a T)>,
            customer: impl Fn(&T) -> &dom::CustomerKey,
        ) -> $crate::Result<(Vec<(i64, i64, &'a T)>, u64)> {
            let (rows, inserted) = with_buyer_ids(conn, records, |r| Some(customer(r))).await?;
            let rows = rows.into_iter().map(|(fp, cid, r)| (fp, cid.expect("every record has a customer"), r)).collect();
            Ok((rows, inserted))
        }

        /// [`with_customer_ids`] for orders, whose buyer may be unknown (a guest order:
        /// `None`, kept as a NULL customer).
        async fn with_buyer_ids<'a, T>(
            conn: &mut Conn,
            records: Vec<(i64, &'a T)>,
            customer: impl Fn(&T) -> Option<&dom::CustomerKey>,
        ) -> $crate::Result<(Vec<(i64, Option<i64>, &'a T)>, u64)> {
            let (ids, inserted) = ensure_customers(conn, records.iter().filter_map(|(_, r)| customer(r))).await?;
            let mut rows = Vec::with_capacity(records.len());
            for (fp, r) in records {
                rows.push((fp, customer(r).map(|k| customer_id(&ids, k)).transpose()?, r));
            }
            Ok((rows, inserted))
        }

        async fn upsert_orders(conn: &mut Conn, orders: &[dom::Order]) -> $crate::Result<$crate::OrdersUpserted> {
            let (outcomes, to_write) =
                plan(conn, "orders", orders, |o| key_pair(&o.key.source, &o.key.external_id), dom::Order::fingerprint).await?;
            let mut result = $crate::OrdersUpserted {
                outcomes,
                ..Default::default()
            };
            if to_write.is_empty() {
                return Ok(result);
            }
            let (with_customer, inserted) = with_buyer_ids(conn, to_write, |o| o.customer.as_ref()).await?;
            result.customers_inserted = inserted;
            let head = q::insert_head("orders", q::ORDER_COLUMNS, ", revision");
            let tail = q::upsert_tail(q::ORDER_COLUMNS, ", revision = orders.revision + 1")
                .replace("RETURNING id,", "RETURNING id, revision,");
            let mut revisions = HashMap::new();
            for chunk in with_customer.chunks(q::ROWS_PER_STATEMENT / 2) {
                let mut b = Builder::new(&head);
                b.push_values(chunk, |mut s, (fp, cid, o)| {
                    let t = &o.times;
                    s.push_bind(o.key.source.as_str().to_string())
                        .push_bind(o.key.external_id.clone())
                        .push_bind(*cid)
                        .push_bind(o.status.as_str())
                        .push_bind(o.created_at)
                        .push_bind(t.paid_at)
                        .push_bind(t.shipped_at)
                        .push_bind(t.arrived_at)
                        .push_bind(t.signed_at)
                        .push_bind(t.completed_at)
                        .push_bind(t.closed_at)
                        .push_bind(t.refunded_at)
                        .push_bind(cents(o.shipping_fee))
                        .push_bind(cents(o.goods()))
                        .push_bind(cents(o.paid()))
                        .push_bind(cents(o.discount()))
                        .push_bind(cents(o.refund()))
                        .push_bind(o.currency.clone())
                        .push_bind(o.coupon.clone())
                        .push_bind(o.campaign.clone())
                        .push_bind(o.province.clone())
                        .push_bind(o.city.clone())
                        .push_bind(*fp)
                        .push_bind(1_i64);
                });
                b.push(&tail);
                for row in b.build().fetch_all(&mut *conn).await.map_err(db_err)? {
                    let id: i64 = get(&row, "id")?;
                    let rev: i64 = get(&row, "revision")?;
                    revisions.insert((get::<String>(&row, "source")?, get::<String>(&row, "external_id")?), (id, rev));
                }
            }
            let mut updated_ids = Vec::new();
            // `with_customer` holds the written orders in input order, as do the outcomes
            // that are not `Unchanged`.
            let written_outcomes = result.outcomes.iter().filter(|o| **o != Outcome::Unchanged);
            for (outcome, (_, cid, o)) in written_outcomes.zip(&with_customer) {
                let &(id, revision) = revisions
                    .get(&key_pair(&o.key.source, &o.key.external_id))
                    .ok_or_else(|| $crate::StoreError::Database(format!("order {} was not written", o.key.external_id)))?;
                if *outcome == Outcome::Updated {
                    updated_ids.push(id);
                }
                result.written.push($crate::StoredOrder { id, customer_id: *cid, revision, order: (*o).clone() });
            }
            delete_children(conn, "order_lines", "order_id", &updated_ids).await?;
            let lines: Vec<(i64, i64, &dom::OrderLine)> = result
                .written
                .iter()
                .flat_map(|w| w.order.lines.iter().enumerate().map(move |(n, l)| (w.id, n as i64 + 1, l)))
                .collect();
            for chunk in lines.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new(format!("INSERT INTO order_lines ({}) ", q::LINE_COLUMNS));
                b.push_values(chunk, |mut s, (id, n, l)| {
                    s.push_bind(*id)
                        .push_bind(*n)
                        .push_bind(l.sku.clone())
                        .push_bind(l.title.clone())
                        .push_bind(l.category.clone())
                        .push_bind(i64::from(l.quantity))
                        .push_bind(l.amount.0)
                        .push_bind(l.discount.0)
                        .push_bind(l.cost.map(cents))
                        .push_bind(l.refund.0);
                });
                b.build().execute(&mut *conn).await.map_err(db_err)?;
            }
            Ok(result)
        }

        async fn upsert_customers(conn: &mut Conn, customers: &[dom::Customer]) -> $crate::Result<$crate::Upserted> {
            let (outcomes, to_write) =
                plan(conn, "customers", customers, |c| key_pair(&c.key.source, &c.key.external_id), dom::Customer::fingerprint).await?;
            let head = q::insert_head("customers", q::CUSTOMER_COLUMNS, "");
            let tail = q::upsert_tail(q::CUSTOMER_COLUMNS, "");
            let ids = upsert_rows(conn, &head, &tail, &to_write, |mut s, (fp, c)| {
                s.push_bind(c.key.source.as_str().to_string())
                    .push_bind(c.key.external_id.clone())
                    .push_bind(c.name.clone())
                    .push_bind(c.gender.map(|g| g.as_str()))
                    .push_bind(c.birthday)
                    .push_bind(c.province.clone())
                    .push_bind(c.city.clone())
                    .push_bind(c.phone.clone())
                    .push_bind(c.mobile.as_ref().map(|m| m.raw.clone()))
                    .push_bind(c.mobile.as_ref().and_then(|m| m.normalised.as_ref()).map(|m| m.as_str().to_string()))
                    .push_bind(c.email.as_ref().map(|m| m.raw.clone()))
                    .push_bind(c.email.as_ref().and_then(|m| m.normalised.as_ref()).map(|m| m.as_str().to_string()))
                    .push_bind(c.qq.clone())
                    .push_bind(c.wechat.clone())
                    .push_bind(c.credit_level.clone())
                    .push_bind(c.source_channel.clone())
                    .push_bind(c.first_seen_at)
                    .push_bind(c.preferred_style.clone())
                    .push_bind(c.price_sensitivity.map(i64::from))
                    .push_bind(c.preferred_brand.clone())
                    .push_bind(c.preferred_channel.map(|g| g.as_str()))
                    .push_bind(c.max_messages_per_week.map(i64::from))
                    .push_bind(*fp);
            })
            .await?;
            let mut written = Vec::with_capacity(to_write.len());
            for (_, c) in &to_write {
                let id = ids
                    .get(&key_pair(&c.key.source, &c.key.external_id))
                    .copied()
                    .ok_or_else(|| $crate::StoreError::Database(format!("customer {} was not written", c.key.external_id)))?;
                written.push((id, *c));
            }
            let written_ids: Vec<i64> = written.iter().map(|(id, _)| *id).collect();
            // A withdrawal of consent (an unsubscribe, a TD reply) is evidence: an import of
            // older records must not undo it. Stored denials are put back below unless the
            // import brings a newer record for that channel.
            let mut denials: Vec<(i64, String, chrono::DateTime<chrono::Utc>, String)> = Vec::new();
            for chunk in written_ids.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new(
                    "SELECT customer_id, channel, recorded_at, evidence FROM customer_consents WHERE state = 'denied' AND customer_id IN (",
                );
                push_in(&mut b, chunk.iter().copied());
                for r in b.build().fetch_all(&mut *conn).await.map_err(db_err)? {
                    denials.push((get(&r, "customer_id")?, get(&r, "channel")?, get(&r, "recorded_at")?, get(&r, "evidence")?));
                }
            }
            delete_children(conn, "customer_consents", "customer_id", &written_ids).await?;
            delete_children(conn, "customer_tags", "customer_id", &written_ids).await?;
            let consents: Vec<(i64, &dom::Consent)> =
                written.iter().flat_map(|(id, c)| c.consents.iter().map(move |x| (*id, x))).collect();
            for chunk in consents.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new("INSERT INTO customer_consents (customer_id, channel, state, recorded_at, evidence) ");
                b.push_values(chunk, |mut s, (id, c)| {
                    s.push_bind(*id)
                        .push_bind(c.channel.as_str())
                        .push_bind(c.state.as_str())
                        .push_bind(c.recorded_at)
                        .push_bind(c.evidence.clone());
                });
                b.build().execute(&mut *conn).await.map_err(db_err)?;
            }
            for chunk in denials.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new("INSERT INTO customer_consents (customer_id, channel, state, recorded_at, evidence) ");
                b.push_values(chunk, |mut s, (id, channel, at, evidence)| {
                    s.push_bind(*id).push_bind(channel.clone()).push_bind("denied").push_bind(*at).push_bind(evidence.clone());
                });
                b.push(
                    " ON CONFLICT (customer_id, channel) DO UPDATE SET state = excluded.state, recorded_at = excluded.recorded_at, \
                     evidence = excluded.evidence WHERE customer_consents.recorded_at < excluded.recorded_at",
                );
                b.build().execute(&mut *conn).await.map_err(db_err)?;
            }
            let tags: Vec<(i64, &String)> = written.iter().flat_map(|(id, c)| c.tags.iter().map(move |t| (*id, t))).collect();
            for chunk in tags.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new("INSERT INTO customer_tags (customer_id, tag) ");
                b.push_values(chunk, |mut s, (id, t)| {
                    s.push_bind(*id).push_bind((*t).clone());
                });
                b.push(" ON CONFLICT DO NOTHING");
                b.build().execute(&mut *conn).await.map_err(db_err)?;
            }
            Ok($crate::Upserted { outcomes, customers_inserted: 0 })
        }

        async fn upsert_service_records(conn: &mut Conn, records: &[dom::ServiceRecord]) -> $crate::Result<$crate::Upserted> {
            let (outcomes, to_write) =
                plan(conn, "service_records", records, |r| key_pair(&r.source, &r.external_id), dom::ServiceRecord::fingerprint).await?;
            let (rows, customers_inserted) = with_customer_ids(conn, to_write, |r| &r.customer).await?;
            let head = q::insert_head("service_records", q::SERVICE_COLUMNS, "");
            let tail = q::upsert_tail(q::SERVICE_COLUMNS, "");
            upsert_rows(conn, &head, &tail, &rows, |mut s, (fp, cid, r)| {
                s.push_bind(r.source.as_str().to_string())
                    .push_bind(r.external_id.clone())
                    .push_bind(*cid)
                    .push_bind(r.order_external_id.clone())
                    .push_bind(r.kind.as_str())
                    .push_bind(r.status.as_str())
                    .push_bind(r.opened_at)
                    .push_bind(r.closed_at)
                    .push_bind(r.satisfaction.map(|x| i64::from(x.get())))
                    .push_bind(r.cost.0)
                    .push_bind(r.note.clone())
                    .push_bind(*fp);
            })
            .await?;
            Ok($crate::Upserted { outcomes, customers_inserted })
        }

        async fn upsert_reviews(conn: &mut Conn, reviews: &[dom::Review]) -> $crate::Result<$crate::Upserted> {
            let (outcomes, to_write) =
                plan(conn, "reviews", reviews, |r| key_pair(&r.source, &r.external_id), dom::Review::fingerprint).await?;
            let (rows, customers_inserted) = with_customer_ids(conn, to_write, |r| &r.customer).await?;
            let head = q::insert_head("reviews", q::REVIEW_COLUMNS, "");
            let tail = q::upsert_tail(q::REVIEW_COLUMNS, "");
            let rating = |r: Option<dom::Rating>| r.map(|x| i64::from(x.get()));
            upsert_rows(conn, &head, &tail, &rows, |mut s, (fp, cid, r)| {
                s.push_bind(r.source.as_str().to_string())
                    .push_bind(r.external_id.clone())
                    .push_bind(*cid)
                    .push_bind(r.order_external_id.clone())
                    .push_bind(rating(r.item_rating))
                    .push_bind(rating(r.service_rating))
                    .push_bind(rating(r.logistics_rating))
                    .push_bind(r.text.clone())
                    .push_bind(r.created_at)
                    .push_bind(*fp);
            })
            .await?;
            Ok($crate::Upserted { outcomes, customers_inserted })
        }

        /// The classes of the current build, for the next build's transitions.
        async fn current_classes(conn: &mut Conn) -> $crate::Result<$crate::PreviousClasses> {
            use futures::TryStreamExt as _;
            let mut out = $crate::PreviousClasses::default();
            let mut b = Builder::new(format!("SELECT customer_id, {} FROM profiles", $crate::class_columns()));
            let mut rows = b.build().fetch(&mut *conn);
            while let Some(row) = rows.try_next().await.map_err(db_err)? {
                let mut classes: [Option<String>; 8] = Default::default();
                for (slot, kind) in classes.iter_mut().zip(guanxi_domain::profile::ClassKind::ALL.iter().map(|k| k.as_str())) {
                    *slot = get(&row, kind)?;
                }
                out.insert(get(&row, "customer_id")?, classes);
            }
            Ok(out)
        }

        impl $store {
            /// A program's segment entries (`Store::entries`).
            async fn read_entries(&self, program: &str) -> $crate::Result<Vec<$crate::Entry>> {
                let mut b = Builder::new("SELECT customer_id, started_at, occurrence FROM program_entries WHERE program = ");
                b.push_bind(program.to_string()).push(" ORDER BY customer_id");
                rows_of(&self.pool, b, |r| {
                    Ok($crate::Entry {
                        program: program.to_string(),
                        customer_id: get(r, "customer_id")?,
                        started_at: get(r, "started_at")?,
                        occurrence: get(r, "occurrence")?,
                    })
                })
                .await
            }

            /// The current build's profile columns (`Store::profile_columns`).
            async fn read_profile_columns(&self) -> $crate::Result<Option<$crate::ProfileColumns>> {
                use futures::TryStreamExt as _;
                // One connection, so that the build and its profiles are read alike.
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let Some(build) = sqlx::query("SELECT id FROM profile_builds ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?
                else {
                    return Ok(None);
                };
                let mut columns = $crate::ProfileColumns::new(get(&build, "id")?);
                // Built from the column names of `segment`, no input.
                let select = sqlx::AssertSqlSafe(format!("SELECT {} FROM profiles p", *$crate::COLUMNS_SQL));
                let mut rows = sqlx::query(select).fetch(&mut *conn);
                while let Some(r) = rows.try_next().await.map_err(db_err)? {
                    let row = $crate::ColumnRow::read(
                        |i| r.try_get(i).map_err(db_err),
                        |i| r.try_get(i).map_err(db_err),
                        |i| r.try_get(i).map_err(db_err),
                    )?;
                    columns.push_row(&row);
                }
                Ok(Some(columns))
            }

            /// Stores a build as the current one, with its class changes and figures.
            async fn write_build(
                &self,
                build: &$crate::BuildRecord,
                rows: &mut dyn $crate::BuildRows,
            ) -> $crate::Result<$crate::BuildRecord> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let previous: i64 = get(&sqlx::query("SELECT count(*) AS n FROM profile_builds").fetch_one(&mut *tx).await.map_err(db_err)?, "n")?;
                let mut old = if previous > 0 { Some(current_classes(&mut tx).await?) } else { None };
                let mut b = Builder::new("INSERT INTO profile_builds (as_of, built_at, customers, transitions, summary) ");
                b.push_values([build], |mut s, r| {
                    s.push_bind(r.as_of).push_bind(r.built_at).push_bind(0i64).push_bind(0i64).push_bind(r.summary.clone());
                });
                b.push(" RETURNING id");
                let id: i64 = get(&b.build().fetch_one(&mut *tx).await.map_err(db_err)?, "id")?;
                sqlx::query("DELETE FROM profiles").execute(&mut *tx).await.map_err(db_err)?;
                let head = format!("INSERT INTO profiles ({}) ", q::PROFILE_COLUMNS);
                let (mut customers, mut transitions) = (0i64, 0i64);
                let mut changes: Vec<$crate::ClassChange> = Vec::new();
                let mut chunk: Vec<$crate::ProfileRow> = Vec::with_capacity(q::ROWS_PER_STATEMENT / 2);
                let mut sums = $crate::FigureSums::default();
                loop {
                    chunk.clear();
                    chunk.extend(std::iter::from_fn(|| rows.next_row()).take(q::ROWS_PER_STATEMENT / 2));
                    for p in &chunk {
                        sums.add(p);
                    }
                    let last = chunk.len() < q::ROWS_PER_STATEMENT / 2;
                    // Class changes against the previous build; the first build has nothing
                    // to compare with and records none.
                    if let Some(old) = old.as_mut() {
                        for p in &chunk {
                            old.changes(p, &mut changes);
                        }
                        if last {
                            old.gone(&mut changes);
                        }
                    }
                    if !chunk.is_empty() {
                        customers += chunk.len() as i64;
                        let mut b = Builder::new(&head);
                        b.push_values(&chunk, |mut s, p| {
                            s.push_bind(p.customer_id).push_bind(id);
                            for c in &p.classes {
                                s.push_bind(c.clone());
                            }
                            s.push_bind(p.r)
                                .push_bind(p.f)
                                .push_bind(p.m)
                                .push_bind(p.recency_days)
                                .push_bind(p.paid_orders)
                                .push_bind(p.frequency)
                                .push_bind(p.cycle_days)
                                .push_bind(p.discount_share)
                                .push_bind(p.complaint_count)
                                .push_bind(p.praise_count)
                                .push_bind(p.paid_amount_cents)
                                .push_bind(p.profit_cents)
                                .push_bind(p.refunds_cents)
                                .push_bind(p.monetary_cents)
                                .push_bind(i64::from(p.won_back))
                                .push_bind(i64::from(p.upgrade_potential))
                                .push_bind(p.first_paid_at)
                                .push_bind(p.last_paid_at)
                                .push_bind(p.p_alive)
                                .push_bind(p.expected_purchases)
                                .push_bind(p.clv_cents)
                                .push_bind(p.next_purchase_at);
                        });
                        b.build().execute(&mut *tx).await.map_err(db_err)?;
                    }
                    while changes.len() >= q::ROWS_PER_STATEMENT || (last && !changes.is_empty()) {
                        let n = changes.len().min(q::ROWS_PER_STATEMENT);
                        let mut b = Builder::new("INSERT INTO class_transitions (build_id, customer_id, kind, from_class, to_class, as_of) ");
                        b.push_values(changes.drain(..n), |mut s, c| {
                            s.push_bind(id).push_bind(c.customer_id).push_bind(c.kind).push_bind(c.from).push_bind(c.to).push_bind(build.as_of);
                        });
                        b.build().execute(&mut *tx).await.map_err(db_err)?;
                        transitions += n as i64;
                    }
                    if last {
                        break;
                    }
                }
                // Rows that could not all be made leave the transaction uncommitted.
                let summary = rows.finish().map_err($crate::StoreError::Refused)?.unwrap_or_else(|| build.summary.clone());
                let figures = sums.finish(satisfaction_of(&mut tx, build.as_of).await?);
                let figures = figures.to_json();
                let mut b = Builder::new("UPDATE profile_builds SET customers = ");
                b.push_bind(customers)
                    .push(", transitions = ")
                    .push_bind(transitions)
                    .push(", figures = ")
                    .push_bind(figures)
                    .push(", summary = ")
                    .push_bind(summary.clone())
                    .push(" WHERE id = ")
                    .push_bind(id);
                b.build().execute(&mut *tx).await.map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok($crate::BuildRecord {
                    id,
                    customers,
                    transitions,
                    summary,
                    ..build.clone()
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::StoreTx for $tx {
            async fn upsert_orders(&mut self, orders: &[dom::Order]) -> $crate::Result<$crate::OrdersUpserted> {
                upsert_orders(&mut self.tx, orders).await
            }

            async fn upsert_customers(&mut self, customers: &[dom::Customer]) -> $crate::Result<$crate::Upserted> {
                upsert_customers(&mut self.tx, customers).await
            }

            async fn upsert_service_records(&mut self, records: &[dom::ServiceRecord]) -> $crate::Result<$crate::Upserted> {
                upsert_service_records(&mut self.tx, records).await
            }

            async fn upsert_reviews(&mut self, reviews: &[dom::Review]) -> $crate::Result<$crate::Upserted> {
                upsert_reviews(&mut self.tx, reviews).await
            }

            async fn upsert_products(&mut self, products: &[dom::catalogue::Product]) -> $crate::Result<$crate::Upserted> {
                let mut existing = HashMap::new();
                for chunk in products.chunks(q::ROWS_PER_STATEMENT) {
                    let mut b = Builder::new("SELECT sku, title, category, unit_cost_cents FROM products WHERE sku IN (");
                    push_in(&mut b, chunk.iter().map(|p| p.sku.clone()));
                    for row in b.build().fetch_all(&mut *self.tx).await.map_err(db_err)? {
                        let p = product_from_row(&row)?;
                        existing.insert(p.sku.clone(), p);
                    }
                }
                let mut outcomes = Vec::with_capacity(products.len());
                let mut changed = Vec::new();
                for p in products {
                    outcomes.push(match existing.get(&p.sku) {
                        None => Outcome::Inserted,
                        Some(old) if old == p => Outcome::Unchanged,
                        Some(_) => Outcome::Updated,
                    });
                    if existing.get(&p.sku) != Some(p) {
                        changed.push(p);
                    }
                }
                for chunk in changed.chunks(q::ROWS_PER_STATEMENT / 4) {
                    let mut b = Builder::new("INSERT INTO products (sku, title, category, unit_cost_cents) ");
                    b.push_values(chunk, |mut s, p| {
                        s.push_bind(p.sku.clone())
                            .push_bind(p.title.clone())
                            .push_bind(p.category.clone())
                            .push_bind(p.unit_cost.map(|c| c.0));
                    });
                    b.push(" ON CONFLICT (sku) DO UPDATE SET title = excluded.title, category = excluded.category, \
                        unit_cost_cents = excluded.unit_cost_cents");
                    b.build().execute(&mut *self.tx).await.map_err(db_err)?;
                }
                Ok($crate::Upserted { outcomes, customers_inserted: 0 })
            }

            async fn replace_keywords(&mut self, rules: &[dom::catalogue::KeywordRule]) -> $crate::Result<()> {
                sqlx::query("DELETE FROM category_keywords").execute(&mut *self.tx).await.map_err(db_err)?;
                let numbered: Vec<(i64, &dom::catalogue::KeywordRule)> = (0..).zip(rules).collect();
                for chunk in numbered.chunks(q::ROWS_PER_STATEMENT / 3) {
                    let mut b = Builder::new("INSERT INTO category_keywords (position, keyword, category) ");
                    b.push_values(chunk, |mut s, (i, r)| {
                        s.push_bind(*i).push_bind(r.keyword.clone()).push_bind(r.category.clone());
                    });
                    b.build().execute(&mut *self.tx).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn record_import(&mut self, r: &$crate::ImportRecord) -> $crate::Result<()> {
                let mut b = Builder::new("INSERT INTO imports (kind, format, files, started_at, finished_at, summary) ");
                b.push_values([r], |mut s, r| {
                    s.push_bind(r.kind.clone())
                        .push_bind(r.format.clone())
                        .push_bind(r.files.join("\n"))
                        .push_bind(r.started_at)
                        .push_bind(r.finished_at)
                        .push_bind(r.summary.clone());
                });
                b.build().execute(&mut *self.tx).await.map_err(db_err)?;
                Ok(())
            }

            async fn record_event(&mut self, e: &$crate::ReceivedEvent) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO received_events (source, event_id, topic, received_at, platform_order_id, order_id) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, event_id) DO NOTHING",
                )
                .bind(&e.source)
                .bind(&e.event_id)
                .bind(&e.topic)
                .bind(e.received_at)
                .bind(e.order.as_ref().map(|o| o.0.clone()))
                .bind(e.order.as_ref().map(|o| o.1.clone()))
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn hold(&mut self, key: &str) -> $crate::Result<()> {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(key)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn erase_customer(&mut self, id: i64, anonymous_id: &str) -> $crate::Result<()> {
                for statement in $crate::ERASE_CUSTOMER {
                    // Our own constant statements, with the driver's placeholders.
                    let q = if statement.contains("{1}") {
                        sqlx::query(sqlx::AssertSqlSafe(statement.replace("{1}", "$1").replace("{2}", "$2"))).bind(anonymous_id)
                    } else {
                        sqlx::query(sqlx::AssertSqlSafe(statement.replace("{2}", "$1")))
                    };
                    q.bind(id).execute(&mut *self.tx).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn commit(self: Box<Self>) -> $crate::Result<()> {
                self.tx.commit().await.map_err(db_err)
            }

            async fn rollback(self: Box<Self>) -> $crate::Result<()> {
                self.tx.rollback().await.map_err(db_err)
            }
        }
    };
}
