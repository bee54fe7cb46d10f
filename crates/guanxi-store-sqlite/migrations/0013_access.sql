-- Staff who sign in: a name, a role, an argon2 password hash (a PHC string, salt and
-- parameters included). A user is never deleted (the audit log names them); disabling
-- ends their sessions and refuses their sign-in.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled_at TEXT
);

-- Signed-in sessions, in the store so that every instance knows them. The session id
-- the browser holds is never stored: only its SHA-256, so that a copy of the store
-- signs nobody in. Each session has its own token for forms (CSRF).
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Where an audited action came from (a client address, "cli"), and the log by time
-- (`guanxi audit list --since`, sign-in throttling over the last failures).
ALTER TABLE audit_log ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action_at ON audit_log (action, at);
