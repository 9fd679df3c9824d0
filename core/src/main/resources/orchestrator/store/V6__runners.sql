-- One row per runner process, upserted by its own heartbeat every few seconds, so that the gateway,
-- doctor and the CLI (other processes) can tell whether anything will lease the queued jobs.
-- Liveness is not stored: a row is live while last_heartbeat is younger than RUNNER_STALE_SEC,
-- judged by the reader. running_jobs is a JSON array of job ids. Rows whose heartbeat is older than
-- a day (dead or stopped runners) are pruned by the runners themselves.
CREATE TABLE runners (
    id             TEXT PRIMARY KEY,
    host           TEXT NOT NULL,
    pid            INTEGER NOT NULL,
    version        TEXT NOT NULL,
    slots          INTEGER NOT NULL,
    running_jobs   TEXT NOT NULL DEFAULT '[]',
    draining       INTEGER NOT NULL DEFAULT 0,
    started_at     INTEGER NOT NULL,
    last_heartbeat INTEGER NOT NULL,
    stopped_at     INTEGER
) WITHOUT ROWID
;
CREATE INDEX runners_last_heartbeat ON runners (last_heartbeat)
