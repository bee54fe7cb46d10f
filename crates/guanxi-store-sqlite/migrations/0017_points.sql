-- Points (issue 17): an append-only ledger. Each event is kept as posted (its kind,
-- source and business id make it unique per member, so a replayed order or webhook
-- earns once), with the movements it made: a balance is the sum of a member's
-- movements, a lot's remaining points the sum of its movements, the debt the movements
-- without a lot — never a stored number that can drift.
CREATE TABLE points_events (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    business_id TEXT NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,                 -- the event as posted (JSON), replayed by verify
    actor TEXT NOT NULL,
    UNIQUE (customer_id, kind, source, business_id)
);
CREATE TABLE points_movements (
    event_id BIGINT NOT NULL REFERENCES points_events (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    lot_kind TEXT,                       -- the lot's earning (NULL: the debt)
    lot_source TEXT,
    lot_id TEXT,
    points BIGINT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX points_movements_customer ON points_movements (customer_id);
