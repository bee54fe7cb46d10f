-- Campaigns: the plan as a marketer wrote it (TOML) with the seed of its draws, and its
-- launch's snapshot — every member, their audience, their variant (NULL: held out) and
-- why — so that the report compares exactly the customers chosen at launch.
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    plan TEXT NOT NULL,
    seed BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    launched_at TEXT
);
CREATE TABLE campaign_members (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    audience BIGINT NOT NULL,
    variant BIGINT,
    reason TEXT NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
);
