-- The PostgreSQL schema: everything SQLite's V1..V7 hold, in one file. Times are epoch milliseconds
-- (bigint, UTC), as on SQLite, so that both stores share their SQL and their Java. Flags stay
-- integers (0/1) for the same reason. The job's spec is jsonb (the tag filter reads it); other JSON
-- documents are text, written and read whole.
CREATE TABLE jobs (
    -- byte order (COLLATE "C"): ids are lower-case hex, and paging compares them with 'g'
    id               text COLLATE "C" PRIMARY KEY,
    -- insertion order: "age" for the lease order (the id's random tail does not order jobs of one ms)
    seq              bigserial NOT NULL,
    project          text,
    source_type      text NOT NULL,
    source_meta      text NOT NULL DEFAULT '{}',
    spec             jsonb NOT NULL,
    state            text NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    run_at           bigint NOT NULL,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    started_at       bigint,
    finished_at      bigint,
    attempt          integer NOT NULL DEFAULT 1,
    lease_owner      text,
    -- fencing counter: incremented by every lease; a runner's writes name the value it got
    lease_token      bigint NOT NULL DEFAULT 0,
    lease_expires_at bigint,
    cancel_requested integer NOT NULL DEFAULT 0,
    idempotency_key  text,
    concurrency_key  text,
    resume_step      text,
    result           text,
    error_code       text,
    error_message    text,
    cost_usd         double precision NOT NULL DEFAULT 0,
    tokens_in        bigint NOT NULL DEFAULT 0,
    tokens_out       bigint NOT NULL DEFAULT 0
);
-- the lease scan: queued jobs by priority, then age; small, as only queued rows are in it
CREATE INDEX jobs_queued ON jobs (priority DESC, seq) WHERE state = 'queued';
CREATE INDEX jobs_expiring ON jobs (lease_expires_at) WHERE state = 'running';
-- at most one running job per concurrency key, whatever two runners on two hosts decide at the
-- same moment: the second lease's UPDATE fails on this index and is retried (PostgresJobStore)
CREATE UNIQUE INDEX jobs_running_key ON jobs (concurrency_key) WHERE state = 'running' AND concurrency_key IS NOT NULL;
CREATE INDEX jobs_by_project ON jobs (project, created_at);
CREATE INDEX jobs_by_created ON jobs (created_at);
-- a NULL project must collide with itself, hence coalesce
CREATE UNIQUE INDEX jobs_idempotency ON jobs (coalesce(project, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE job_steps (
    job_id        text NOT NULL,
    step_id       text NOT NULL,
    idx           integer NOT NULL,
    agent         text,
    status        text NOT NULL,
    exit_code     integer,
    error_code    text,
    error_message text,
    started_at    bigint,
    finished_at   bigint,
    cost_usd      double precision NOT NULL DEFAULT 0,
    tokens_in     bigint NOT NULL DEFAULT 0,
    tokens_out    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, step_id)
);

CREATE TABLE job_events (
    id         bigserial PRIMARY KEY,
    job_id     text NOT NULL,
    at         bigint NOT NULL,
    actor      text NOT NULL,
    from_state text,
    to_state   text,
    reason     text
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);

-- One row per (schedule, fire time), written in the same transaction as the job it enqueued:
-- the primary key is what makes a fire happen once across scheduler processes, hosts and restarts.
CREATE TABLE schedule_fires (
    schedule_id text NOT NULL,
    fire_time   bigint NOT NULL,
    job_id      text,
    outcome     text NOT NULL,
    reason      text,
    created_at  bigint NOT NULL,
    PRIMARY KEY (schedule_id, fire_time)
);

-- What agents cost per project per UTC day, for MAX_DAILY_COST_USD and MAX_DAILY_API_CALLS.
-- project '' stands for jobs without a project.
CREATE TABLE daily_usage (
    project   text NOT NULL,
    day       text NOT NULL,
    cost_usd  double precision NOT NULL DEFAULT 0,
    api_calls bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project, day)
);

-- One row that the readiness probe rewrites: a committed write proves the server still takes one.
CREATE TABLE store_probe (id integer PRIMARY KEY CHECK (id = 1), at bigint NOT NULL);
INSERT INTO store_probe (id, at) VALUES (1, 0);

-- The outbox of completion callbacks, inserted in the transaction of the job's final state.
CREATE TABLE callbacks (
    job_id          text PRIMARY KEY,
    url             text NOT NULL,
    payload         text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    claimed_until   bigint,
    status          text NOT NULL DEFAULT 'pending',
    last_error      text,
    created_at      bigint NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE status = 'pending';

-- One row per runner process, upserted by its own heartbeat (see SQLite's V6__runners.sql).
CREATE TABLE runners (
    id             text PRIMARY KEY,
    host           text NOT NULL,
    pid            bigint NOT NULL,
    version        text NOT NULL,
    slots          integer NOT NULL,
    running_jobs   text NOT NULL DEFAULT '[]',
    draining       integer NOT NULL DEFAULT 0,
    started_at     bigint NOT NULL,
    last_heartbeat bigint NOT NULL,
    stopped_at     bigint
);
CREATE INDEX runners_last_heartbeat ON runners (last_heartbeat);

-- An operator's pause of a schedule (see SQLite's V7__schedule_state.sql).
CREATE TABLE schedule_state (
    schedule_id text PRIMARY KEY,
    paused      integer NOT NULL CHECK (paused IN (0, 1)),
    paused_at   bigint,
    paused_by   text,
    resumed_at  bigint,
    resumed_by  text
);
