-- Program steps that are not messages: tags added or removed (applied when decided),
-- service tasks for staff, coupons and points (recorded here for the membership layer to
-- grant). Keyed by the same ledger key as messages: each happens once.
CREATE TABLE program_actions (
    ledger_key TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    program TEXT NOT NULL,
    step TEXT NOT NULL,
    action TEXT NOT NULL,             -- add-tag, remove-tag, task, coupon, points
    detail TEXT NOT NULL,             -- the tag, the task's text, the coupon, the points
    due_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL,
    done_at TIMESTAMPTZ                        -- tags: when applied; tasks: when staff closed it
);
CREATE INDEX program_actions_open ON program_actions (action) WHERE done_at IS NULL;
