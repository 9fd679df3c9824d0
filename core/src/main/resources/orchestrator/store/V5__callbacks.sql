-- The outbox of completion callbacks: a row is inserted in the same transaction as the job's final
-- state, so a callback is never lost to a crash between the two. Runners claim due rows with a
-- conditional UPDATE (claimed_until) so that two runners never send the same attempt at once.
CREATE TABLE callbacks (
    job_id          TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    status          TEXT NOT NULL DEFAULT 'pending',
    last_error      TEXT,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID
;
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE status = 'pending'
