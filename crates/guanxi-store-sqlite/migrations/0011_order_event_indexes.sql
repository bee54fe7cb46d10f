-- Order-triggered programs (payment reminders on created_at, order care on signed_at…)
-- look up the orders whose event fell in their window at every scheduler pass: without
-- an index each page of that lookup read the whole orders table (0.6-0.7 s per program
-- per pass at 10M orders). Partial indexes: a shop's files leave most event columns
-- empty, and an index of only the filled rows costs an import nothing for the others;
-- a range condition on the column implies it is not null, so the lookups use them.
CREATE INDEX orders_event_created ON orders (created_at);
CREATE INDEX orders_event_paid ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX orders_event_shipped ON orders (shipped_at) WHERE shipped_at IS NOT NULL;
CREATE INDEX orders_event_arrived ON orders (arrived_at) WHERE arrived_at IS NOT NULL;
CREATE INDEX orders_event_signed ON orders (signed_at) WHERE signed_at IS NOT NULL;
CREATE INDEX orders_event_completed ON orders (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX orders_event_closed ON orders (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX orders_event_refunded ON orders (refunded_at) WHERE refunded_at IS NOT NULL;
