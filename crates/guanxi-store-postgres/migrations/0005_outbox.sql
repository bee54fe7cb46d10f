-- Engagement (issue 6): programs, their segment entries, and the outbox. The messages
-- table is the outbox and the send ledger at once: a row is written in the transaction
-- that decides to send, and its ledger_key (customer/program/step/occurrence) is unique,
-- so a second send of the same touch cannot be queued whatever crashes or races happen.

CREATE TABLE programs (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,         -- the program's TOML
    enabled BIGINT NOT NULL,              -- 1 enabled, 0 not
    since TIMESTAMPTZ,                         -- triggers at or after this count (not history)
    updated_at TIMESTAMPTZ NOT NULL
);

-- Who is in a segment-triggered program's segment now: entering starts a run.
CREATE TABLE program_entries (
    program TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    entered_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,           -- the run's start (entry, spread over the program's days)
    occurrence TEXT NOT NULL,         -- the run's part of the ledger key
    PRIMARY KEY (program, customer_id)
);

ALTER TABLE messages ADD COLUMN step TEXT;
ALTER TABLE messages ADD COLUMN priority BIGINT NOT NULL DEFAULT 2;   -- 0 transactional, 1 care, 2 marketing
ALTER TABLE messages ADD COLUMN order_id BIGINT;                       -- the order a run is about
ALTER TABLE messages ADD COLUMN due_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN next_attempt_at TIMESTAMPTZ;                 -- queued: when a worker may take it
ALTER TABLE messages ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;    -- failed sends so far
ALTER TABLE messages ADD COLUMN claimed_by TEXT;                    -- the worker holding it until claimed_until
ALTER TABLE messages ADD COLUMN claimed_until TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN last_error TEXT;                    -- last send error, hold or refusal
ALTER TABLE messages ADD COLUMN failed_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN clicked_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN unsubscribed_at TIMESTAMPTZ;

CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_customer_sent ON messages (customer_id, sent_at);
CREATE INDEX messages_program ON messages (program, status);
