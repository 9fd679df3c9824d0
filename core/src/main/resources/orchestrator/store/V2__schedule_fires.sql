-- One row per (schedule, fire time), written in the same transaction as the job it enqueued:
-- the primary key is what makes a fire happen once across scheduler processes and restarts.
CREATE TABLE schedule_fires (
    schedule_id TEXT NOT NULL,
    fire_time   INTEGER NOT NULL,
    job_id      TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (schedule_id, fire_time)
) WITHOUT ROWID
