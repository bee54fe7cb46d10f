-- Events received from a shop (Shopify webhooks, a middleware's signed events): one row
-- per delivery id, written in the transaction that applies the event, so that a delivery
-- repeated by the sender (Shopify retries until it gets a 2xx) is applied once.
CREATE TABLE received_events (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    platform_order_id TEXT,
    order_id TEXT,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX received_events_at ON received_events (received_at);
CREATE INDEX received_events_platform_order ON received_events (source, platform_order_id) WHERE platform_order_id IS NOT NULL;
