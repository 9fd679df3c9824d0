-- The dashboard's sign-ins (see SQLite's V9__ui_sessions.sql): the SHA-256 of the session id, never the id;
-- the token's digest, never the token; the session's CSRF token; epoch-millisecond times.
CREATE TABLE ui_sessions (
    id_hash      text PRIMARY KEY,
    token_digest text NOT NULL,
    csrf         text NOT NULL,
    created_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL
);
CREATE INDEX ui_sessions_by_token ON ui_sessions (token_digest, created_at);
