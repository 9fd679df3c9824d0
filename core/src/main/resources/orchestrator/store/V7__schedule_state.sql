-- An operator's pause of a schedule, kept in the store rather than in the schedule file or a
-- process's memory: it survives restarts and every scheduler process reads it before it fires.
-- No row means never paused. resumed_at is what a resume's misfire fire is keyed on, so that
-- several schedulers make that fire once (schedule_fires' primary key).
CREATE TABLE schedule_state (
    schedule_id TEXT PRIMARY KEY,
    paused      INTEGER NOT NULL CHECK (paused IN (0, 1)),
    paused_at   INTEGER,
    paused_by   TEXT,
    resumed_at  INTEGER,
    resumed_by  TEXT
) WITHOUT ROWID
