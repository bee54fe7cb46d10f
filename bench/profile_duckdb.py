#!/usr/bin/env python3
"""DuckDB's side of `guanxi bench profile`: the RFM + scores + 8-class + pyramid subset of
guanxi's profile build, over the same Parquet order lines, as one SQL statement.

Usage: profile_duckdb.py LAKE_DIR AS_OF_MICROS [THREADS]
Prints one JSON line: {"seconds": …, "buyers": …, "rfm8": {…}, "pyramid": {…}}.
The definitions follow DOMAIN.md (and guanxi's defaults): newest revision of each order,
paid orders only (not created/closed), R = days since the last paid order, F = paid
orders and M = paid amount in the last 12 months, NTILE(5) scores with ties broken by
customer id, 8 classes against the means of the raw values, pyramid 1/4/15/80 by profit
(paid - cost - refunds) in the last 12 months.
"""
import json
import sys
import time

import duckdb

lake, as_of = sys.argv[1], int(sys.argv[2])
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
window_start = as_of - 365 * 86400 * 1_000_000

SQL = f"""
WITH lines AS (
  SELECT * FROM read_parquet('{lake}/order_lines/*/*.parquet', hive_partitioning = false)
), newest AS (
  SELECT order_id, max(revision) AS revision FROM lines GROUP BY order_id
), orders AS (
  SELECT l.customer_id, l.order_id,
         epoch_us(coalesce(l.paid_at, l.created_at)) AS paid_us,
         sum(l.amount_cents) + max(l.shipping_cents) AS paid,
         sum(l.amount_cents) + max(l.shipping_cents) - sum(coalesce(l.cost_cents, 0)) - sum(l.refund_cents) AS profit
  FROM lines l JOIN newest n USING (order_id, revision)
  WHERE l.status NOT IN ('created', 'closed') AND epoch_us(coalesce(l.paid_at, l.created_at)) <= {as_of}
  GROUP BY l.customer_id, l.order_id, coalesce(l.paid_at, l.created_at)
), buyers AS (
  SELECT customer_id,
         ({as_of} - max(paid_us)) // 86400000000 AS recency,
         count(*) FILTER (WHERE paid_us > {window_start}) AS frequency,
         coalesce(sum(paid) FILTER (WHERE paid_us > {window_start}), 0) AS monetary,
         coalesce(sum(profit) FILTER (WHERE paid_us > {window_start}), 0) AS profit
  FROM orders GROUP BY customer_id
), scored AS (
  SELECT *,
         ntile(5) OVER (ORDER BY recency DESC, customer_id) AS r,
         ntile(5) OVER (ORDER BY frequency, customer_id) AS f,
         ntile(5) OVER (ORDER BY monetary, customer_id) AS m,
         row_number() OVER (ORDER BY profit DESC, customer_id) AS profit_rank,
         count(*) OVER () AS n,
         avg(recency) OVER () AS mr, avg(frequency) OVER () AS mf, avg(monetary) OVER () AS mm
  FROM buyers
), classed AS (
  SELECT customer_id, r, f, m,
         CASE (CASE WHEN recency < mr THEN 4 ELSE 0 END) + (CASE WHEN frequency > mf THEN 2 ELSE 0 END) + (CASE WHEN monetary > mm THEN 1 ELSE 0 END)
           WHEN 7 THEN '重要价值' WHEN 5 THEN '重要发展' WHEN 3 THEN '重要保持' WHEN 1 THEN '重要挽留'
           WHEN 6 THEN '一般价值' WHEN 4 THEN '一般发展' WHEN 2 THEN '一般保持' ELSE '一般挽留' END AS rfm8,
         CASE WHEN profit_rank <= round(n * 0.01) THEN 'vip'
              WHEN profit_rank <= round(n * 0.05) THEN 'major'
              WHEN profit_rank <= round(n * 0.20) THEN 'ordinary' ELSE 'small' END AS tier
  FROM scored
)
SELECT * FROM classed
"""

con = duckdb.connect()
con.execute(f"SET threads = {threads}")
started = time.perf_counter()
con.execute(f"CREATE TEMP TABLE profile AS {SQL}")
seconds = time.perf_counter() - started
buyers = con.execute("SELECT count(*) FROM profile").fetchone()[0]
rfm8 = dict(con.execute("SELECT rfm8, count(*) FROM profile GROUP BY 1 ORDER BY 1").fetchall())
pyramid = dict(con.execute("SELECT tier, count(*) FROM profile GROUP BY 1 ORDER BY 1").fetchall())
print(json.dumps({"seconds": seconds, "buyers": buyers, "rfm8": rfm8, "pyramid": pyramid}, ensure_ascii=False))
