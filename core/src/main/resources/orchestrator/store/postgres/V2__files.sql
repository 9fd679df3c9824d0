-- Step logs and artifacts kept in the store, so that any gateway host serves them (PostgreSQL only; on
-- SQLite the gateway reads the runner's folder). No foreign key to jobs: the files are written while the
-- job runs and deleted by retention, and this table set stands alone in the tests.

-- One row per step with a stored log: the generation being written (a step run again starts a new one and
-- drops the old one's chunks), its stored size and whether the runner closed it.
CREATE TABLE stored_logs (
    job_id     TEXT        NOT NULL,
    step_id    TEXT        NOT NULL,
    generation BIGINT      NOT NULL,
    size       BIGINT      NOT NULL DEFAULT 0,
    closed     BOOLEAN     NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job_id, step_id)
);

-- The log's bytes, in the chunks the runner shipped them; contiguous: a chunk starts where the one before
-- it ends. Keyed by its end so that "the chunks from offset X" is one range scan (end_offset > X).
CREATE TABLE stored_log_chunks (
    job_id       TEXT   NOT NULL,
    step_id      TEXT   NOT NULL,
    generation   BIGINT NOT NULL,
    start_offset BIGINT NOT NULL,
    end_offset   BIGINT NOT NULL,
    data         BYTEA  NOT NULL,
    PRIMARY KEY (job_id, step_id, generation, end_offset),
    CHECK (end_offset > start_offset)
);

-- A job's artifacts by path relative to its folder; content is cut at STORED_ARTIFACT_MAX_BYTES (cut = true)
-- and size is the file's size before the cut.
CREATE TABLE stored_artifacts (
    job_id     TEXT        NOT NULL,
    path       TEXT        NOT NULL,
    size       BIGINT      NOT NULL,
    cut        BOOLEAN     NOT NULL,
    content    BYTEA       NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job_id, path)
);

-- retention looks for jobs whose files were last written long ago
CREATE INDEX stored_logs_updated ON stored_logs (updated_at);
CREATE INDEX stored_artifacts_updated ON stored_artifacts (updated_at);
