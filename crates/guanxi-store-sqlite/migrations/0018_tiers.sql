-- Membership tiers (issue 17): every tier change a member went through, with why and
-- the window's measure then, and every warning before an evaluation that would lower
-- them. Both follow from the member's paid orders and the rules; recording them makes
-- them a trail and a program's trigger (`became = { kind = "tier", class = "金卡" }`,
-- `kind = "tier-warning"` with the tier they would lose), each recorded once.
CREATE TABLE tier_changes (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    at TEXT NOT NULL,
    from_tier BIGINT,                    -- NULL: joined
    to_tier BIGINT NOT NULL,
    tier_name TEXT NOT NULL,
    why TEXT NOT NULL,                   -- joined, qualified, evaluated
    measure BIGINT NOT NULL,             -- the window's spend (cents) or orders
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, at, to_tier)
);
CREATE INDEX tier_changes_at ON tier_changes (at);
CREATE TABLE tier_warnings (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    evaluation TEXT NOT NULL,
    at TEXT NOT NULL,
    tier BIGINT NOT NULL,
    tier_name TEXT NOT NULL,             -- the tier they would lose
    would_be BIGINT NOT NULL,
    measure BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, evaluation)
);
