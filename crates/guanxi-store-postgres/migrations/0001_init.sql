-- guanxi's schema on PostgreSQL. Kept column for column in step with the SQLite one
-- (crates/guanxi-store-sqlite/migrations): the shared SQL in guanxi-store runs on both.
-- Money: integer cents. Times: timestamptz. Integers: BIGINT, so both decode to i64.

CREATE TABLE customers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT,
    gender TEXT,
    birthday DATE,
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
    first_seen_at TIMESTAMPTZ,
    preferred_style TEXT,
    price_sensitivity BIGINT,
    preferred_brand TEXT,
    preferred_channel TEXT,
    max_messages_per_week BIGINT,
    content_hash BIGINT NOT NULL,
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
CREATE INDEX customers_mobile ON customers (mobile) WHERE mobile IS NOT NULL;
CREATE INDEX customers_email ON customers (email) WHERE email IS NOT NULL;

-- Further ids of the same person on other platforms (identity merge).
CREATE TABLE customer_identities (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE customer_consents (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (customer_id, channel)
);

CREATE TABLE customer_tags (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    tag TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);

CREATE TABLE orders (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    paid_at TIMESTAMPTZ,
    shipped_at TIMESTAMPTZ,
    arrived_at TIMESTAMPTZ,
    signed_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    refunded_at TIMESTAMPTZ,
    shipping_cents BIGINT NOT NULL,
    goods_cents BIGINT NOT NULL,     -- derived from the lines, kept for SQL reports
    paid_cents BIGINT NOT NULL,
    discount_cents BIGINT NOT NULL,
    refund_cents BIGINT NOT NULL,
    currency TEXT,
    coupon TEXT,
    campaign TEXT,
    province TEXT,
    city TEXT,
    content_hash BIGINT NOT NULL,
    revision BIGINT NOT NULL,        -- 1 on insert, +1 per update; the lake keeps the newest
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
CREATE INDEX orders_customer ON orders (customer_id, created_at);

CREATE TABLE order_lines (
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no BIGINT NOT NULL,
    sku TEXT,
    title TEXT,
    category TEXT,
    quantity BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    discount_cents BIGINT NOT NULL,
    cost_cents BIGINT,
    refund_cents BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE service_records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    order_external_id TEXT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    satisfaction BIGINT,
    cost_cents BIGINT NOT NULL,
    note TEXT,
    content_hash BIGINT NOT NULL,
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
CREATE INDEX service_records_customer ON service_records (customer_id);

CREATE TABLE reviews (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    order_external_id TEXT,
    item_rating BIGINT,
    service_rating BIGINT,
    logistics_rating BIGINT,
    text TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    content_hash BIGINT NOT NULL,
    UNIQUE (external_id, source)   -- external_id first: batches look records up by it
);
CREATE INDEX reviews_customer ON reviews (customer_id);

-- Touches sent to customers. Filled by the engagement layer (programs, outbox).
CREATE TABLE messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    channel TEXT NOT NULL,
    program TEXT,
    campaign TEXT,
    template TEXT,
    status TEXT NOT NULL,
    ledger_key TEXT NOT NULL UNIQUE,  -- (customer, program, step, occurrence): never twice
    queued_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    cost_cents BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX messages_customer ON messages (customer_id);

CREATE TABLE imports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    files TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    summary TEXT NOT NULL
);

-- Who did what, for merges, consent changes and (later) every user action.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
