-- The dashboard's sign-ins, in the store so that every gateway on it serves a signed-in browser and a
-- restart signs no one out (JobStore's dashboard-session methods, UiSession). Only what a session needs:
-- id_hash is the SHA-256 (hex) of the cookie's session id, never the id, so a read of this table gives no
-- usable cookie; token_digest is the token's SHA-256 (hex, ApiToken.digest()), never the token, looked up
-- among the gateway's current tokens on every request; csrf is the token every form of the session carries.
-- Times are epoch milliseconds; last_seen_at moves at most once a minute per session.
CREATE TABLE ui_sessions (
    id_hash      TEXT PRIMARY KEY,
    token_digest TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) WITHOUT ROWID
;
-- a token's sessions, oldest first: the per-token cap drops the oldest sign-in
CREATE INDEX ui_sessions_by_token ON ui_sessions (token_digest, created_at)
