//! The reading SQL both backends run, written once. [`sql_store!`] expands to the `Store`
//! implementation for one concrete sqlx database (its `begin` calls the backend's own
//! `begin_write`: the write transaction is each backend's, see [`crate::sql_store_tx!`]
//! and the SQLite crate); the SQL in it is the common dialect of SQLite ≥ 3.35 and
//! PostgreSQL ≥ 9.5 (row values, `ON CONFLICT … DO UPDATE`, `RETURNING`), with
//! placeholders written by sqlx's `QueryBuilder` for each.
//!
//! Why a macro and not generic code: sqlx code generic over `Database` needs a bound for
//! every type encoded or decoded and for the executor, on every function; the macro keeps
//! the code readable and still written once.

/// Order columns in insert order; `revision` is handled apart (1 on insert, +1 on update).
pub const ORDER_COLUMNS: &[&str] = &[
    "source",
    "external_id",
    "customer_id",
    "status",
    "created_at",
    "paid_at",
    "shipped_at",
    "arrived_at",
    "signed_at",
    "completed_at",
    "closed_at",
    "refunded_at",
    "shipping_cents",
    "goods_cents",
    "paid_cents",
    "discount_cents",
    "refund_cents",
    "currency",
    "coupon",
    "campaign",
    "province",
    "city",
    "content_hash",
];

pub const CUSTOMER_COLUMNS: &[&str] = &[
    "source",
    "external_id",
    "name",
    "gender",
    "birthday",
    "province",
    "city",
    "phone",
    "mobile_raw",
    "mobile",
    "email_raw",
    "email",
    "qq",
    "wechat",
    "credit_level",
    "source_channel",
    "first_seen_at",
    "preferred_style",
    "price_sensitivity",
    "preferred_brand",
    "preferred_channel",
    "max_messages_per_week",
    "content_hash",
];

pub const SERVICE_COLUMNS: &[&str] = &[
    "source",
    "external_id",
    "customer_id",
    "order_external_id",
    "kind",
    "status",
    "opened_at",
    "closed_at",
    "satisfaction",
    "cost_cents",
    "note",
    "content_hash",
];

pub const REVIEW_COLUMNS: &[&str] = &[
    "source",
    "external_id",
    "customer_id",
    "order_external_id",
    "item_rating",
    "service_rating",
    "logistics_rating",
    "text",
    "created_at",
    "content_hash",
];

/// Profile columns in insert order.
pub const PROFILE_COLUMNS: &str = "customer_id, build_id, relationship, activity, lifecycle, quadrant, pricing, tier, rfm8, rfm11, \
    r, f, m, recency_days, paid_orders, frequency, cycle_days, discount_share, complaint_count, praise_count, \
    paid_amount_cents, profit_cents, refunds_cents, monetary_cents, won_back, upgrade_potential, first_paid_at, last_paid_at, \
    p_alive, expected_purchases, clv_cents, next_purchase_at";

pub const LINE_COLUMNS: &str =
    "order_id, line_no, sku, title, category, quantity, amount_cents, discount_cents, cost_cents, refund_cents";

/// `INSERT INTO table (cols) ` — the head of an upsert; the values follow.
pub fn insert_head(table: &str, columns: &[&str], extra: &str) -> String {
    format!("INSERT INTO {table} ({}{extra}) ", columns.join(", "))
}

/// The tail of an upsert keyed by (source, external_id): every other column takes the new
/// value; `extra_set` adds assignments (the order revision).
pub fn upsert_tail(columns: &[&str], extra_set: &str) -> String {
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !matches!(**c, "source" | "external_id"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT (external_id, source) DO UPDATE SET {}{extra_set} RETURNING id, source, external_id",
        set.join(", ")
    )
}

/// Rows per multi-row statement: kept under SQLite's 32,766 bound parameters.
pub const ROWS_PER_STATEMENT: usize = 1000;

#[macro_export]
macro_rules! sql_store {
    ($store:ident, $db:ty, $backend:expr) => {
        use std::collections::{BTreeSet, HashMap};

        use guanxi_domain as dom;
        use sqlx::Row as _;
        use $crate::sql as q;
        use $crate::Outcome;

        type Conn = <$db as sqlx::Database>::Connection;
        type Builder = sqlx::QueryBuilder<$db>;
        type DbRow = <$db as sqlx::Database>::Row;

        fn db_err(e: sqlx::Error) -> $crate::StoreError {
            $crate::StoreError::Database(e.to_string())
        }

        fn corrupt(what: impl std::fmt::Display) -> $crate::StoreError {
            $crate::StoreError::Corrupt(what.to_string())
        }

        fn get<'r, T: sqlx::Decode<'r, $db> + sqlx::Type<$db>>(row: &'r DbRow, col: &str) -> $crate::Result<T> {
            row.try_get(col).map_err(|e| corrupt(format!("column {col}: {e}")))
        }

        /// An order row's status times (`paid_at` … `refunded_at`).
        fn status_times(row: &DbRow) -> $crate::Result<dom::StatusTimes> {
            Ok(dom::StatusTimes {
                paid_at: get(row, "paid_at")?,
                shipped_at: get(row, "shipped_at")?,
                arrived_at: get(row, "arrived_at")?,
                signed_at: get(row, "signed_at")?,
                completed_at: get(row, "completed_at")?,
                closed_at: get(row, "closed_at")?,
                refunded_at: get(row, "refunded_at")?,
            })
        }

        fn source(s: String) -> $crate::Result<dom::Source> {
            dom::Source::parse(&s).map_err(corrupt)
        }

        const ORDER_SELECT: &str = "SELECT o.id, o.customer_id, o.revision, o.source, o.external_id, c.source AS c_source, \
            c.external_id AS c_external_id, o.status, o.created_at, o.paid_at, o.shipped_at, o.arrived_at, o.signed_at, \
            o.completed_at, o.closed_at, o.refunded_at, o.shipping_cents, o.currency, o.coupon, o.campaign, o.province, o.city \
            FROM orders o LEFT JOIN customers c ON c.id = o.customer_id ";

        fn order_from_row(row: &DbRow) -> $crate::Result<$crate::StoredOrder> {
            let status: String = get(row, "status")?;
            Ok($crate::StoredOrder {
                id: get(row, "id")?,
                customer_id: get(row, "customer_id")?,
                revision: get(row, "revision")?,
                order: dom::Order {
                    key: dom::OrderKey { source: source(get(row, "source")?)?, external_id: get(row, "external_id")? },
                    customer: match get::<Option<String>>(row, "c_source")? {
                        Some(s) => Some(dom::CustomerKey { source: source(s)?, external_id: get(row, "c_external_id")? }),
                        None => None,
                    },
                    status: dom::OrderStatus::parse(&status).map_err(corrupt)?,
                    created_at: get(row, "created_at")?,
                    times: status_times(row)?,
                    shipping_fee: dom::Cents(get(row, "shipping_cents")?),
                    currency: get(row, "currency")?,
                    coupon: get(row, "coupon")?,
                    campaign: get(row, "campaign")?,
                    province: get(row, "province")?,
                    city: get(row, "city")?,
                    lines: Vec::new(),
                },
            })
        }

    /// Satisfaction over paid orders, reviews and service records up to `as_of`.
    async fn satisfaction_of(conn: &mut Conn, as_of: chrono::DateTime<chrono::Utc>) -> $crate::Result<$crate::Satisfaction> {
            let mut b = Builder::new("SELECT (SELECT count(*) FROM orders WHERE paid_at IS NOT NULL AND paid_at <= ");
            b.push_bind(as_of)
                .push(") AS paid, (SELECT count(*) FROM reviews WHERE created_at <= ")
                .push_bind(as_of)
                .push(") AS reviews, (SELECT CAST(avg(item_rating) AS DOUBLE PRECISION) FROM reviews WHERE created_at <= ")
                .push_bind(as_of)
                .push(") AS item, (SELECT CAST(avg(service_rating) AS DOUBLE PRECISION) FROM reviews WHERE created_at <= ")
                .push_bind(as_of)
                .push(") AS service, (SELECT CAST(avg(logistics_rating) AS DOUBLE PRECISION) FROM reviews WHERE created_at <= ")
                .push_bind(as_of)
                .push(") AS logistics, (SELECT count(*) FROM service_records WHERE kind IN ('complaint', 'dispute') AND opened_at <= ")
                .push_bind(as_of)
                .push(") AS complaints, (SELECT CAST(avg(satisfaction) AS DOUBLE PRECISION) FROM service_records WHERE opened_at <= ")
                .push_bind(as_of)
                .push(") AS satisfaction");
            let row = b.build().fetch_one(&mut *conn).await.map_err(db_err)?;
            let paid = get::<i64>(&row, "paid")? as u64;
            let complaints = get::<i64>(&row, "complaints")? as u64;
            Ok($crate::Satisfaction {
                paid_orders: paid,
                reviews: get::<i64>(&row, "reviews")? as u64,
                item_rating: get(&row, "item")?,
                service_rating: get(&row, "service")?,
                logistics_rating: get(&row, "logistics")?,
                complaints,
                complaint_rate: if paid == 0 { 0.0 } else { complaints as f64 * 100.0 / paid as f64 },
                service_satisfaction: get(&row, "satisfaction")?,
            })
        }

        /// A customer from a `customers` row, without consents and tags.
        fn customer_from_row(row: &DbRow) -> $crate::Result<dom::Customer> {
            let name = |c: &str| get::<Option<String>>(row, c);
            Ok(dom::Customer {
                key: dom::CustomerKey { source: source(get(row, "source")?)?, external_id: get(row, "external_id")? },
                name: name("name")?,
                gender: name("gender")?.map(|g| dom::Gender::parse(&g)).transpose().map_err(corrupt)?,
                birthday: get(row, "birthday")?,
                province: name("province")?,
                city: name("city")?,
                phone: name("phone")?,
                mobile: name("mobile_raw")?.map(|m| dom::Contact::mobile(&m)),
                email: name("email_raw")?.map(|m| dom::Contact::email(&m)),
                qq: name("qq")?,
                wechat: name("wechat")?,
                credit_level: name("credit_level")?,
                source_channel: name("source_channel")?,
                first_seen_at: get(row, "first_seen_at")?,
                preferred_style: name("preferred_style")?,
                price_sensitivity: get::<Option<i64>>(row, "price_sensitivity")?.map(|v| v as u8),
                preferred_brand: name("preferred_brand")?,
                preferred_channel: name("preferred_channel")?.map(|g| dom::Channel::parse(&g)).transpose().map_err(corrupt)?,
                max_messages_per_week: get::<Option<i64>>(row, "max_messages_per_week")?.map(|v| v as u16),
                consents: Vec::new(),
                tags: Vec::new(),
            })
        }

        /// Reads the consents and tags of `customers` (by internal id), in channel and tag order.
        async fn attach_consents_and_tags(conn: &mut Conn, customers: &mut [(i64, dom::Customer)]) -> $crate::Result<()> {
            let at: HashMap<i64, usize> = customers.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
            let ids: Vec<i64> = customers.iter().map(|(id, _)| *id).collect();
            for chunk in ids.chunks(q::ROWS_PER_STATEMENT) {
                let mut b = Builder::new("SELECT customer_id, channel, state, recorded_at, evidence FROM customer_consents WHERE customer_id IN (");
                push_in(&mut b, chunk.iter().copied());
                b.push(" ORDER BY customer_id, channel");
                for row in b.build().fetch_all(&mut *conn).await.map_err(db_err)? {
                    customers[at[&get::<i64>(&row, "customer_id")?]].1.consents.push(consent_from_row(&row)?);
                }
                let mut b = Builder::new("SELECT customer_id, tag FROM customer_tags WHERE customer_id IN (");
                push_in(&mut b, chunk.iter().copied());
                b.push(" ORDER BY customer_id, tag");
                for row in b.build().fetch_all(&mut *conn).await.map_err(db_err)? {
                    customers[at[&get::<i64>(&row, "customer_id")?]].1.tags.push(get(&row, "tag")?);
                }
            }
            Ok(())
        }

        /// The current profile from a `profiles` row.
        fn profile_from_row(row: &DbRow) -> $crate::Result<$crate::ProfileRow> {
            let mut classes: [Option<String>; 8] = Default::default();
            for (slot, kind) in classes.iter_mut().zip(guanxi_domain::profile::ClassKind::ALL.iter().map(|k| k.as_str())) {
                *slot = get(row, kind)?;
            }
            Ok($crate::ProfileRow {
                customer_id: get(row, "customer_id")?,
                classes,
                r: get(row, "r")?,
                f: get(row, "f")?,
                m: get(row, "m")?,
                recency_days: get(row, "recency_days")?,
                paid_orders: get(row, "paid_orders")?,
                frequency: get(row, "frequency")?,
                cycle_days: get(row, "cycle_days")?,
                discount_share: get(row, "discount_share")?,
                complaint_count: get(row, "complaint_count")?,
                praise_count: get(row, "praise_count")?,
                paid_amount_cents: get(row, "paid_amount_cents")?,
                profit_cents: get(row, "profit_cents")?,
                refunds_cents: get(row, "refunds_cents")?,
                monetary_cents: get(row, "monetary_cents")?,
                won_back: get::<i64>(row, "won_back")? != 0,
                upgrade_potential: get::<i64>(row, "upgrade_potential")? != 0,
                first_paid_at: get(row, "first_paid_at")?,
                last_paid_at: get(row, "last_paid_at")?,
                p_alive: get(row, "p_alive")?,
                expected_purchases: get(row, "expected_purchases")?,
                clv_cents: get(row, "clv_cents")?,
                next_purchase_at: get(row, "next_purchase_at")?,
            })
        }

        fn product_from_row(row: &DbRow) -> $crate::Result<dom::catalogue::Product> {
            Ok(dom::catalogue::Product {
                sku: get(row, "sku")?,
                title: get(row, "title")?,
                category: get(row, "category")?,
                unit_cost: get::<Option<i64>>(row, "unit_cost_cents")?.map(dom::Cents),
            })
        }

        fn line_from_row(row: &DbRow) -> $crate::Result<(i64, dom::OrderLine)> {
            let quantity: i64 = get(row, "quantity")?;
            Ok((
                get(row, "order_id")?,
                dom::OrderLine {
                    sku: get(row, "sku")?,
                    title: get(row, "title")?,
                    category: get(row, "category")?,
                    quantity: u32::try_from(quantity).map_err(corrupt)?,
                    amount: dom::Cents(get(row, "amount_cents")?),
                    discount: dom::Cents(get(row, "discount_cents")?),
                    cost: get::<Option<i64>>(row, "cost_cents")?.map(dom::Cents),
                    refund: dom::Cents(get(row, "refund_cents")?),
                },
            ))
        }

        /// Attaches lines (ordered by order id, line number) to orders (ordered by id).
        fn attach_lines(orders: &mut [$crate::StoredOrder], lines: Vec<(i64, dom::OrderLine)>) {
            let mut at = 0;
            for (order_id, line) in lines {
                while at < orders.len() && orders[at].id < order_id {
                    at += 1;
                }
                if let Some(o) = orders.get_mut(at).filter(|o| o.id == order_id) {
                    o.order.lines.push(line);
                }
            }
        }

        async fn lines_between(conn: &mut Conn, first: i64, last: i64) -> $crate::Result<Vec<(i64, dom::OrderLine)>> {
            let mut b = Builder::new(format!("SELECT {} FROM order_lines WHERE order_id >= ", q::LINE_COLUMNS));
            b.push_bind(first).push(" AND order_id <= ").push_bind(last).push(" ORDER BY order_id, line_no");
            b.build().fetch_all(&mut *conn).await.map_err(db_err)?.iter().map(line_from_row).collect()
        }

        /// Runs a query and maps every row.
        fn service_from_row(r: &DbRow) -> $crate::Result<$crate::HistoryService> {
            Ok($crate::HistoryService {
                kind: get(r, "kind")?,
                status: get(r, "status")?,
                opened_at: get(r, "opened_at")?,
                closed_at: get(r, "closed_at")?,
                satisfaction: get(r, "satisfaction")?,
                note: get(r, "note")?,
            })
        }

        /// A customer listed by a search or a segment: `id, source, external_id, name`.
        fn member_from_row(r: &DbRow) -> $crate::Result<$crate::SegmentMember> {
            Ok($crate::SegmentMember {
                id: get(r, "id")?,
                source: get(r, "source")?,
                external_id: get(r, "external_id")?,
                name: get(r, "name")?,
            })
        }

        fn review_from_row(r: &DbRow) -> $crate::Result<$crate::HistoryReview> {
            Ok($crate::HistoryReview {
                created_at: get(r, "created_at")?,
                item_rating: get(r, "item_rating")?,
                service_rating: get(r, "service_rating")?,
                logistics_rating: get(r, "logistics_rating")?,
                text: get(r, "text")?,
            })
        }

        /// Refuses `name` when `table` has a row by that name: a name is how people
        /// call a thing (a user, a campaign), so taking one twice is their mistake, told
        /// as such rather than as a constraint's failure.
        async fn refuse_taken<'c, E>(conn: E, table: &'static str, what: &str, name: &str) -> $crate::Result<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let mut b = Builder::new(format!("SELECT 1 AS taken FROM {table} WHERE name = "));
            b.push_bind(name.to_string());
            if b.build().fetch_optional(conn).await.map_err(db_err)?.is_some() {
                return Err($crate::StoreError::Refused(format!("{what} named {name:?} exists")));
            }
            Ok(())
        }

        async fn rows_of<T>(
            pool: &sqlx::Pool<$db>,
            mut b: Builder,
            f: impl Fn(&DbRow) -> $crate::Result<T>,
        ) -> $crate::Result<Vec<T>> {
            b.build().fetch_all(pool).await.map_err(db_err)?.iter().map(f).collect()
        }

        /// Binds `values` as a comma-separated list and closes the `IN (` before it.
        fn push_in<T>(b: &mut Builder, values: impl IntoIterator<Item = T>)
        where
            T: 'static + sqlx::Encode<'static, $db> + sqlx::Type<$db> + Send,
        {
            let mut sep = b.separated(", ");
            for v in values {
                sep.push_bind(v);
            }
            b.push(")");
        }

        /// Pushes compiled segment SQL, binding its values.
        fn push_pieces(b: &mut Builder, pieces: Vec<$crate::segment::Piece>) {
            use $crate::segment::{Bind, Piece};
            for p in pieces {
                match p {
                    Piece::Sql(s) => {
                        b.push(s);
                    }
                    Piece::Bind(Bind::Text(t)) => {
                        b.push_bind(t);
                    }
                    Piece::Bind(Bind::Int(i)) => {
                        b.push_bind(i);
                    }
                    Piece::Bind(Bind::Real(f)) => {
                        b.push_bind(f);
                    }
                    Piece::Bind(Bind::Time(t)) => {
                        b.push_bind(t);
                    }
                }
            }
        }

        fn build_from_row(row: &DbRow) -> $crate::Result<$crate::BuildRecord> {
            Ok($crate::BuildRecord {
                id: get(row, "id")?,
                as_of: get(row, "as_of")?,
                built_at: get(row, "built_at")?,
                customers: get(row, "customers")?,
                transitions: get(row, "transitions")?,
                summary: get(row, "summary")?,
            })
        }

        async fn consents_of(conn: &mut Conn, id: i64) -> $crate::Result<Vec<dom::Consent>> {
            let mut b = Builder::new("SELECT channel, state, recorded_at, evidence FROM customer_consents WHERE customer_id = ");
            b.push_bind(id).push(" ORDER BY channel");
            b.build().fetch_all(&mut *conn).await.map_err(db_err)?.iter().map(consent_from_row).collect()
        }

        /// A consent from a `customer_consents` row.
        fn consent_from_row(row: &DbRow) -> $crate::Result<dom::Consent> {
            let ch: String = get(row, "channel")?;
            let st: String = get(row, "state")?;
            Ok(dom::Consent {
                channel: dom::Channel::parse(&ch).map_err(corrupt)?,
                state: dom::ConsentState::parse(&st).map_err(corrupt)?,
                recorded_at: get(row, "recorded_at")?,
                evidence: get(row, "evidence")?,
            })
        }

        async fn set_consents(conn: &mut Conn, id: i64, consents: &[dom::Consent]) -> $crate::Result<()> {
            let mut b = Builder::new("DELETE FROM customer_consents WHERE customer_id = ");
            b.push_bind(id);
            b.build().execute(&mut *conn).await.map_err(db_err)?;
            if consents.is_empty() {
                return Ok(());
            }
            let mut b = Builder::new("INSERT INTO customer_consents (customer_id, channel, state, recorded_at, evidence) ");
            b.push_values(consents, |mut s, c| {
                s.push_bind(id)
                    .push_bind(c.channel.as_str())
                    .push_bind(c.state.as_str())
                    .push_bind(c.recorded_at)
                    .push_bind(c.evidence.clone());
            });
            b.build().execute(&mut *conn).await.map_err(db_err)?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                $backend
            }

            async fn begin(&self) -> $crate::Result<Box<dyn $crate::StoreTx>> {
                self.begin_write().await
            }

            async fn counts(&self) -> $crate::Result<$crate::Counts> {
                let row = sqlx::query(
                    "SELECT (SELECT COUNT(*) FROM customers) AS customers, (SELECT COUNT(*) FROM orders) AS orders, \
                     (SELECT COUNT(*) FROM order_lines) AS order_lines, (SELECT COUNT(*) FROM service_records) AS service_records, \
                     (SELECT COUNT(*) FROM reviews) AS reviews, (SELECT COUNT(*) FROM messages) AS messages",
                )
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
                let n = |c: &str| get::<i64>(&row, c).map(|v| v as u64);
                Ok($crate::Counts {
                    customers: n("customers")?,
                    orders: n("orders")?,
                    order_lines: n("order_lines")?,
                    service_records: n("service_records")?,
                    reviews: n("reviews")?,
                    messages: n("messages")?,
                })
            }

            async fn customer(&self, key: &dom::CustomerKey) -> $crate::Result<Option<(i64, dom::Customer)>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let mut b = Builder::new("SELECT * FROM customers WHERE source = ");
                b.push_bind(key.source.as_str().to_string()).push(" AND external_id = ").push_bind(key.external_id.clone());
                let Some(row) = b.build().fetch_optional(&mut *conn).await.map_err(db_err)? else {
                    return Ok(None);
                };
                let id: i64 = get(&row, "id")?;
                let mut c = vec![(id, customer_from_row(&row)?)];
                attach_consents_and_tags(&mut conn, &mut c).await?;
                Ok(c.pop())
            }

            async fn profiled_customers(
                &self,
                expr: Option<&dom::segment::Expr>,
                as_of: chrono::DateTime<chrono::Utc>,
                after_id: i64,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::ProfiledCustomer>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let mut b = Builder::new("SELECT c.*, p.*");
                // Paged by the profile's id, as `segment_members` is (and for its reason).
                b.push($crate::segment::FROM).push("WHERE p.customer_id > ").push_bind(after_id);
                if let Some(expr) = expr {
                    b.push(" AND ");
                    push_pieces(&mut b, $crate::segment::compile(expr, as_of)?);
                }
                b.push(" ORDER BY p.customer_id LIMIT ").push_bind(i64::from(limit));
                let rows = b.build().fetch_all(&mut *conn).await.map_err(db_err)?;
                let mut customers = Vec::with_capacity(rows.len());
                let mut profiles = Vec::with_capacity(rows.len());
                for row in &rows {
                    customers.push((get::<i64>(row, "id")?, customer_from_row(row)?));
                    profiles.push(profile_from_row(row)?);
                }
                attach_consents_and_tags(&mut conn, &mut customers).await?;
                Ok(customers
                    .into_iter()
                    .zip(profiles)
                    .map(|((id, customer), profile)| $crate::ProfiledCustomer { id, customer, profile })
                    .collect())
            }

            async fn customer_by_id(&self, id: i64) -> $crate::Result<Option<dom::Customer>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let mut b = Builder::new("SELECT source, external_id FROM customers WHERE id = ");
                b.push_bind(id);
                let Some(row) = b.build().fetch_optional(&mut *conn).await.map_err(db_err)? else {
                    return Ok(None);
                };
                let key = dom::CustomerKey { source: source(get(&row, "source")?)?, external_id: get(&row, "external_id")? };
                drop(conn);
                Ok(self.customer(&key).await?.map(|(_, c)| c))
            }

            async fn catalogue(&self) -> $crate::Result<dom::catalogue::Catalogue> {
                let products = sqlx::query("SELECT sku, title, category, unit_cost_cents FROM products")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(product_from_row)
                    .collect::<$crate::Result<Vec<_>>>()?;
                let keywords = sqlx::query("SELECT keyword, category FROM category_keywords ORDER BY position")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|row| Ok(dom::catalogue::KeywordRule { keyword: get(row, "keyword")?, category: get(row, "category")? }))
                    .collect::<$crate::Result<Vec<_>>>()?;
                Ok(dom::catalogue::Catalogue::new(products, &keywords))
            }

            async fn setting(&self, key: &str) -> $crate::Result<Option<String>> {
                let mut b = Builder::new("SELECT value FROM settings WHERE name = ");
                b.push_bind(key.to_string());
                match b.build().fetch_optional(&self.pool).await.map_err(db_err)? {
                    Some(row) => Ok(Some(get(&row, "value")?)),
                    None => Ok(None),
                }
            }

            async fn set_setting(&self, key: &str, value: &str) -> $crate::Result<()> {
                let mut b = Builder::new("INSERT INTO settings (name, value) VALUES (");
                b.push_bind(key.to_string()).push(", ").push_bind(value.to_string());
                b.push(") ON CONFLICT (name) DO UPDATE SET value = excluded.value");
                b.build().execute(&self.pool).await.map_err(db_err)?;
                Ok(())
            }

            async fn imports(&self) -> $crate::Result<Vec<$crate::ImportRecord>> {
                let rows = sqlx::query("SELECT kind, format, files, started_at, finished_at, summary FROM imports ORDER BY id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                rows.iter()
                    .map(|row| {
                        let files: String = get(row, "files")?;
                        Ok($crate::ImportRecord {
                            kind: get(row, "kind")?,
                            format: get(row, "format")?,
                            files: files.lines().map(str::to_string).collect(),
                            started_at: get(row, "started_at")?,
                            finished_at: get(row, "finished_at")?,
                            summary: get(row, "summary")?,
                        })
                    })
                    .collect()
            }

            async fn standings(&self) -> $crate::Result<Vec<(i64, bool, Vec<String>)>> {
                let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
                for row in sqlx::query("SELECT customer_id, tag FROM customer_tags ORDER BY customer_id, tag")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                {
                    tags.entry(get(&row, "customer_id")?).or_default().push(get(&row, "tag")?);
                }
                let rows = sqlx::query(
                    "SELECT id, CAST(CASE WHEN mobile IS NOT NULL OR email IS NOT NULL OR wechat IS NOT NULL OR qq IS NOT NULL \
                     THEN 1 ELSE 0 END AS BIGINT) AS contact FROM customers WHERE merged_into IS NULL ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|row| {
                        let id: i64 = get(row, "id")?;
                        Ok((id, get::<i64>(row, "contact")? != 0, tags.remove(&id).unwrap_or_default()))
                    })
                    .collect()
            }

            async fn search_customers(&self, search: &$crate::Search, limit: u32) -> $crate::Result<Vec<$crate::SegmentMember>> {
                // Each way the text can match is its own indexed lookup; UNION drops the
                // customer found twice. PostgreSQL compares names bytewise for the prefix
                // range (its index is on `name COLLATE "C"`), as SQLite does by default.
                let collate = if matches!($backend, $crate::Backend::Postgres) { " COLLATE \"C\"" } else { "" };
                let mut b = Builder::new("SELECT id, source, external_id, name FROM customers WHERE merged_into IS NULL AND id IN (");
                b.push("SELECT id FROM customers WHERE external_id = ").push_bind(search.text.clone());
                b.push(format!(" UNION SELECT id FROM customers WHERE name{collate} >= ")).push_bind(search.text.clone());
                b.push(format!(" AND name{collate} < ")).push_bind(search.prefix_end());
                if let Some(id) = search.id {
                    b.push(" UNION SELECT id FROM customers WHERE id = ").push_bind(id);
                }
                if let Some(m) = &search.mobile {
                    b.push(" UNION SELECT id FROM customers WHERE mobile = ").push_bind(m.clone());
                }
                if let Some(e) = &search.email {
                    b.push(" UNION SELECT id FROM customers WHERE email = ").push_bind(e.clone());
                }
                b.push(") ORDER BY id LIMIT ").push_bind(i64::from(limit));
                rows_of(&self.pool, b, member_from_row).await
            }

            async fn customer_history(&self, customer_id: i64, limit: u32) -> $crate::Result<$crate::History> {
                let who = |b: &mut Builder| {
                    b.push(" WHERE customer_id IN (SELECT id FROM customers WHERE id = ")
                        .push_bind(customer_id)
                        .push(" OR merged_into = ")
                        .push_bind(customer_id)
                        .push(")");
                };
                let limit = i64::from(limit);
                let mut b = Builder::new("SELECT id, source, external_id, status, created_at, paid_at, paid_cents, refund_cents FROM orders");
                who(&mut b);
                b.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit);
                let orders = rows_of(&self.pool, b, |r| {
                    Ok((get::<i64>(r, "id")?, $crate::HistoryOrder {
                        source: get(r, "source")?,
                        external_id: get(r, "external_id")?,
                        status: get(r, "status")?,
                        created_at: get(r, "created_at")?,
                        paid_at: get(r, "paid_at")?,
                        paid_cents: get(r, "paid_cents")?,
                        refund_cents: get(r, "refund_cents")?,
                        items: String::new(),
                    }))
                })
                .await?;
                let mut items: HashMap<i64, Vec<String>> = HashMap::new();
                if !orders.is_empty() {
                    let mut b = Builder::new("SELECT order_id, coalesce(title, sku, '') AS item, quantity FROM order_lines WHERE order_id IN (");
                    push_in(&mut b, orders.iter().map(|(id, _)| *id));
                    b.push(" ORDER BY order_id, line_no");
                    for (id, item, quantity) in rows_of(&self.pool, b, |r| {
                        Ok((get::<i64>(r, "order_id")?, get::<String>(r, "item")?, get::<i64>(r, "quantity")?))
                    })
                    .await?
                    {
                        let line = if quantity == 1 { item } else { format!("{item} × {quantity}") };
                        items.entry(id).or_default().push(line);
                    }
                }
                let orders = orders
                    .into_iter()
                    .map(|(id, mut o)| {
                        o.items = items.remove(&id).unwrap_or_default().join(", ");
                        o
                    })
                    .collect();
                let mut b = Builder::new("SELECT kind, status, opened_at, closed_at, satisfaction, note FROM service_records");
                who(&mut b);
                b.push(" ORDER BY opened_at DESC, id DESC LIMIT ").push_bind(limit);
                let service = rows_of(&self.pool, b, service_from_row).await?;
                let mut b = Builder::new("SELECT created_at, item_rating, service_rating, logistics_rating, text FROM reviews");
                who(&mut b);
                b.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit);
                let reviews = rows_of(&self.pool, b, review_from_row).await?;
                let mut b = Builder::new("SELECT channel, program, campaign, template, status, queued_at, sent_at FROM messages");
                who(&mut b);
                b.push(" ORDER BY queued_at DESC, id DESC LIMIT ").push_bind(limit);
                let messages = rows_of(&self.pool, b, |r| {
                    Ok($crate::HistoryMessage {
                        channel: get(r, "channel")?,
                        program: get(r, "program")?,
                        campaign: get(r, "campaign")?,
                        template: get(r, "template")?,
                        status: get(r, "status")?,
                        queued_at: get(r, "queued_at")?,
                        sent_at: get(r, "sent_at")?,
                    })
                })
                .await?;
                Ok($crate::History { orders, service, reviews, messages })
            }

            async fn audit_trail(&self, subject: &str) -> $crate::Result<Vec<$crate::AuditEntry>> {
                let mut b = Builder::new("SELECT at, actor, action, detail FROM audit_log WHERE subject = ");
                b.push_bind(subject.to_string()).push(" ORDER BY id");
                rows_of(&self.pool, b, |r| Ok($crate::AuditEntry { at: get(r, "at")?, actor: get(r, "actor")?, action: get(r, "action")?, detail: get(r, "detail")? })).await
            }

            async fn customer_id(&self, key: &dom::CustomerKey) -> $crate::Result<Option<i64>> {
                let mut b = Builder::new("SELECT coalesce(merged_into, id) AS id FROM customers WHERE external_id = ");
                b.push_bind(key.external_id.clone()).push(" AND source = ").push_bind(key.source.as_str().to_string());
                let row = b.build().fetch_optional(&self.pool).await.map_err(db_err)?;
                row.map(|r| get(&r, "id")).transpose()
            }
        }

        $crate::sql_outbox!($store, $db, $backend);
        $crate::sql_access!($store, $db, $backend);
        $crate::sql_campaigns!($store, $db, $backend);
        $crate::sql_points!($store, $db, $backend);
        $crate::sql_coupons!($store, $db, $backend);
        $crate::sql_segments!($store, $db, $backend);
        $crate::sql_merges!($store, $db, $backend);
        $crate::sql_builds!($store, $db, $backend);
        $crate::sql_records!($store, $db, $backend);
        $crate::sql_orders!($store, $db, $backend);
    };
}
