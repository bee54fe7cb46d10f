-- Profiles, class transitions, saved segments and identity merges (issue 3).
-- Kept column for column in step with the other backend's 0002.

-- One row per profile build: the as-of moment it describes and its distribution.
CREATE TABLE profile_builds (
    id INTEGER PRIMARY KEY,
    as_of TEXT NOT NULL,
    built_at TEXT NOT NULL,
    customers BIGINT NOT NULL,
    transitions BIGINT NOT NULL,
    summary TEXT NOT NULL            -- the build's distribution as JSON
);

-- The current profile of every customer (one per person: merged customers have none).
-- Class and measure columns are what segments filter on; kept narrow (no text beyond
-- class names) so that a segment scanning every profile reads little. The whole profile
-- with its explanations lives in the lake (profiles/build-<id>.parquet).
CREATE TABLE profiles (
    customer_id INTEGER PRIMARY KEY REFERENCES customers (id),
    build_id BIGINT NOT NULL REFERENCES profile_builds (id),
    relationship TEXT NOT NULL,
    activity TEXT,
    lifecycle TEXT,
    quadrant TEXT,
    pricing TEXT,
    tier TEXT,
    rfm8 TEXT,
    rfm11 TEXT,
    r BIGINT,
    f BIGINT,
    m BIGINT,
    recency_days BIGINT,
    paid_orders BIGINT NOT NULL,
    frequency BIGINT NOT NULL,
    cycle_days REAL,
    discount_share REAL NOT NULL,
    complaint_count BIGINT NOT NULL,
    praise_count BIGINT NOT NULL,
    paid_amount_cents BIGINT NOT NULL,
    profit_cents BIGINT NOT NULL,
    refunds_cents BIGINT NOT NULL,
    monetary_cents BIGINT NOT NULL,
    won_back BIGINT NOT NULL,         -- 0 or 1: one integer type decodes alike on both
    upgrade_potential BIGINT NOT NULL,
    first_paid_at TEXT,
    last_paid_at TEXT
);
CREATE INDEX profiles_relationship ON profiles (relationship);
CREATE INDEX profiles_lifecycle ON profiles (lifecycle);
CREATE INDEX profiles_activity ON profiles (activity);
CREATE INDEX profiles_tier ON profiles (tier);
CREATE INDEX profiles_rfm8 ON profiles (rfm8);
CREATE INDEX profiles_rfm11 ON profiles (rfm11);

-- Every class change between consecutive builds: events programs can trigger on.
-- from_class is NULL for a customer new to the build, to_class NULL for one gone from it.
CREATE TABLE class_transitions (
    id INTEGER PRIMARY KEY,
    build_id BIGINT NOT NULL REFERENCES profile_builds (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL,
    from_class TEXT,
    to_class TEXT,
    as_of TEXT NOT NULL
);
CREATE INDEX class_transitions_as_of ON class_transitions (as_of);
CREATE INDEX class_transitions_customer ON class_transitions (customer_id);

CREATE TABLE segments (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    expression TEXT NOT NULL,         -- canonical text (printed from the parsed tree)
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Identity merge: a merged customer points at the person it was merged into; its own
-- orders stay its own (the lake is not rewritten) and the profile build counts them for
-- that person. `before` keeps what the merge changed on the kept customer, for unmerge.
ALTER TABLE customers ADD COLUMN merged_into BIGINT REFERENCES customers (id);
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE customer_merges (
    id INTEGER PRIMARY KEY,
    kept_id BIGINT NOT NULL REFERENCES customers (id),
    merged_id BIGINT NOT NULL REFERENCES customers (id),
    merged_at TEXT NOT NULL,
    undone_at TEXT,
    actor TEXT NOT NULL,
    before TEXT NOT NULL              -- the kept customer's consents before the merge, JSON
);
CREATE INDEX customer_merges_merged ON customer_merges (merged_id);
