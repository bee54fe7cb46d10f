//! Orders as the store reads them back, written once for both backends: expanded inside
//! [`crate::sql_store!`] as the `Orders` implementation of one store (it uses that
//! expansion's helpers: `db_err`, `get`, `corrupt`, `rows_of`, `ORDER_SELECT`,
//! `order_from_row`, `lines_between`, `attach_lines`). The import writes orders through
//! [`crate::StoreTx`], each backend with its own driver.

#[doc(hidden)]
#[macro_export]
macro_rules! sql_orders {
    ($store:ident, $db:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::Orders for $store {
            async fn order(&self, key: &dom::OrderKey) -> $crate::Result<Option<$crate::StoredOrder>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let mut b = Builder::new(ORDER_SELECT);
                b.push("WHERE o.source = ").push_bind(key.source.as_str().to_string());
                b.push(" AND o.external_id = ").push_bind(key.external_id.clone());
                let Some(row) = b.build().fetch_optional(&mut *conn).await.map_err(db_err)? else {
                    return Ok(None);
                };
                let mut orders = vec![order_from_row(&row)?];
                let id = orders[0].id;
                attach_lines(&mut orders, lines_between(&mut conn, id, id).await?);
                Ok(orders.pop())
            }

            async fn orders_after(&self, after_id: i64, limit: u32) -> $crate::Result<Vec<$crate::StoredOrder>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let mut b = Builder::new(ORDER_SELECT);
                b.push("WHERE o.id > ").push_bind(after_id).push(" ORDER BY o.id LIMIT ").push_bind(i64::from(limit));
                let mut orders: Vec<$crate::StoredOrder> =
                    b.build().fetch_all(&mut *conn).await.map_err(db_err)?.iter().map(order_from_row).collect::<Result<_, _>>()?;
                if let (Some(first), Some(last)) = (orders.first().map(|o| o.id), orders.last().map(|o| o.id)) {
                    let lines = lines_between(&mut conn, first, last).await?;
                    attach_lines(&mut orders, lines);
                }
                Ok(orders)
            }

            async fn order_summaries(
                &self,
                after_id: i64,
                limit: u32,
            ) -> $crate::Result<Vec<(i64, dom::report::OrderSummary)>> {
                // The lines summed per order through the primary key (order_id, line_no).
                let mut b = Builder::new(
                    "SELECT o.id, o.created_at, o.status, o.customer_id, o.shipping_cents, \
                     CAST(coalesce((SELECT sum(l.amount_cents) FROM order_lines l WHERE l.order_id = o.id), 0) AS BIGINT) AS goods, \
                     CAST(coalesce((SELECT sum(l.refund_cents) FROM order_lines l WHERE l.order_id = o.id), 0) AS BIGINT) AS refund \
                     FROM orders o WHERE o.id > ",
                );
                b.push_bind(after_id).push(" ORDER BY o.id LIMIT ").push_bind(i64::from(limit));
                rows_of(&self.pool, b, |r| {
                    let status: String = get(r, "status")?;
                    Ok((
                        get(r, "id")?,
                        dom::report::OrderSummary {
                            created_at: get(r, "created_at")?,
                            status: dom::OrderStatus::parse(&status).map_err(corrupt)?,
                            guest: get::<Option<i64>>(r, "customer_id")?.is_none(),
                            goods: dom::Cents(get(r, "goods")?),
                            shipping: dom::Cents(get(r, "shipping_cents")?),
                            refund: dom::Cents(get(r, "refund")?),
                        },
                    ))
                })
                .await
            }

            async fn order_of_platform_id(&self, source: &str, platform_order_id: &str) -> $crate::Result<Option<String>> {
                let mut b = Builder::new("SELECT order_id FROM received_events WHERE source = ");
                b.push_bind(source.to_string())
                    .push(" AND platform_order_id = ")
                    .push_bind(platform_order_id.to_string())
                    .push(" AND order_id IS NOT NULL LIMIT 1");
                let row = b.build().fetch_optional(&self.pool).await.map_err(db_err)?;
                row.map(|r| get(&r, "order_id")).transpose()
            }
        }
    };
}
