-- Jobs, their steps and the audit trail. Times are epoch milliseconds (UTC).
-- Statements are separated by a line holding only ';' because sqlite-jdbc runs only the
-- first statement of a multi-statement string.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    project          TEXT,
    source_type      TEXT NOT NULL,
    source_meta      TEXT NOT NULL DEFAULT '{}',
    spec             TEXT NOT NULL,
    state            TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    run_at           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    attempt          INTEGER NOT NULL DEFAULT 1,
    lease_owner      TEXT,
    -- fencing counter: incremented by every lease; a runner's writes name the value it got
    lease_token      INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    idempotency_key  TEXT,
    concurrency_key  TEXT,
    resume_step      TEXT,
    result           TEXT,
    error_code       TEXT,
    error_message    TEXT,
    cost_usd         REAL NOT NULL DEFAULT 0,
    tokens_in        INTEGER NOT NULL DEFAULT 0,
    tokens_out       INTEGER NOT NULL DEFAULT 0
)
;
-- the lease scan: queued jobs by priority, then age (rowid is the implicit last column)
CREATE INDEX jobs_by_state_priority ON jobs (state, priority DESC)
;
CREATE INDEX jobs_expiring ON jobs (lease_expires_at) WHERE state = 'running'
;
CREATE INDEX jobs_running_key ON jobs (concurrency_key) WHERE state = 'running' AND concurrency_key IS NOT NULL
;
CREATE INDEX jobs_by_project ON jobs (project, created_at)
;
CREATE INDEX jobs_by_created ON jobs (created_at)
;
-- a NULL project must collide with itself, hence ifnull
CREATE UNIQUE INDEX jobs_idempotency ON jobs (ifnull(project, ''), idempotency_key) WHERE idempotency_key IS NOT NULL
;
CREATE TABLE job_steps (
    job_id        TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    idx           INTEGER NOT NULL,
    agent         TEXT,
    status        TEXT NOT NULL,
    exit_code     INTEGER,
    error_code    TEXT,
    error_message TEXT,
    started_at    INTEGER,
    finished_at   INTEGER,
    cost_usd      REAL NOT NULL DEFAULT 0,
    tokens_in     INTEGER NOT NULL DEFAULT 0,
    tokens_out    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, step_id)
) WITHOUT ROWID
;
CREATE TABLE job_events (
    id         INTEGER PRIMARY KEY,
    job_id     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    reason     TEXT
)
;
CREATE INDEX job_events_by_job ON job_events (job_id, id)
