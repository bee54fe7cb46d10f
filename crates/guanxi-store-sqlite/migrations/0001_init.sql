-- guanxi's schema on SQLite. Kept column for column in step with the PostgreSQL one
-- (crates/guanxi-store-postgres/migrations): the shared SQL in guanxi-store runs on both.
-- Money: integer cents. Times: RFC 3339 UTC text (sqlx's chrono encoding).

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT,
    gender TEXT,
    birthday TEXT,
    province TEXT,
    city TEXT,
    phone TEXT,
    mobile_raw TEXT,          -- as given; kept even when invalid (data hygiene: flag, never drop)
    mobile TEXT,              -- normalised; NULL when mobile_raw is invalid
    email_raw TEXT,
    email TEXT,
    qq TEXT,
    wechat TEXT,
    credit_level TEXT,
    source_channel TEXT,
    first_seen_at TEXT,
    preferred_style TEXT,
    price_sensitivity INTEGER,
    preferred_brand TEXT,
    preferred_channel TEXT,
    max_messages_per_week INTEGER,
    content_hash INTEGER NOT NULL,
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
CREATE INDEX customers_mobile ON customers (mobile) WHERE mobile IS NOT NULL;
CREATE INDEX customers_email ON customers (email) WHERE email IS NOT NULL;

-- Further ids of the same person on other platforms (identity merge).
CREATE TABLE customer_identities (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE customer_consents (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (customer_id, channel)
);

CREATE TABLE customer_tags (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    tag TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
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
CREATE INDEX orders_customer ON orders (customer_id, created_at);

CREATE TABLE order_lines (
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    sku TEXT,
    title TEXT,
    category TEXT,
    quantity INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    cost_cents INTEGER,
    refund_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

CREATE TABLE service_records (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    order_external_id TEXT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    satisfaction INTEGER,
    cost_cents INTEGER NOT NULL,
    note TEXT,
    content_hash INTEGER NOT NULL,
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
CREATE INDEX service_records_customer ON service_records (customer_id);

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    order_external_id TEXT,
    item_rating INTEGER,
    service_rating INTEGER,
    logistics_rating INTEGER,
    text TEXT,
    created_at TEXT NOT NULL,
    content_hash INTEGER NOT NULL,
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
CREATE INDEX reviews_customer ON reviews (customer_id);

-- Touches sent to customers. Filled by the engagement layer (programs, outbox).
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    channel TEXT NOT NULL,
    program TEXT,
    campaign TEXT,
    template TEXT,
    status TEXT NOT NULL,
    ledger_key TEXT NOT NULL UNIQUE,  -- (customer, program, step, occurrence): never twice
    queued_at TEXT NOT NULL,
    sent_at TEXT,
    delivered_at TEXT,
    cost_cents INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_customer ON messages (customer_id);

CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    files TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL
);

-- Who did what, for merges, consent changes and (later) every user action.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
