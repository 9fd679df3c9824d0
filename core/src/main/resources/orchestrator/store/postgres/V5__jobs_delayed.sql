-- The queued jobs that wait for a time (see SQLite's V10__jobs_delayed.sql): next_run_at reads the first
-- entry; a job enqueued to run at once (run_at = created_at) never enters it.
CREATE INDEX jobs_delayed ON jobs (run_at) WHERE state = 'queued' AND run_at > created_at;
