-- no-transaction
-- Guest orders: an order whose buyer the export does not identify keeps customer_id NULL.
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt (SQLite's documented
-- procedure). Foreign keys are off meanwhile, or dropping the old table would cascade to
-- every order line; they are checked before the commit and turned on again after it.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE orders_rebuilt (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers (id),   -- NULL: a guest order
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    paid_at TEXT,
    shipped_at TEXT,
    arrived_at TEXT,
    signed_at TEXT,
    completed_at TEXT,
    closed_at TEXT,
    refunded_at TEXT,
    shipping_cents INTEGER NOT NULL,
    goods_cents INTEGER NOT NULL,     -- derived from the lines, kept for SQL reports
    paid_cents INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    refund_cents INTEGER NOT NULL,
    currency TEXT,
    coupon TEXT,
    campaign TEXT,
    province TEXT,
    city TEXT,
    content_hash INTEGER NOT NULL,
    revision INTEGER NOT NULL,        -- 1 on insert, +1 per update; the lake keeps the newest
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
INSERT INTO orders_rebuilt SELECT * FROM orders;
DROP TABLE orders;
ALTER TABLE orders_rebuilt RENAME TO orders;
CREATE INDEX orders_customer ON orders (customer_id, created_at);
COMMIT;
PRAGMA foreign_keys = ON;
