-- The queued jobs that wait for a time (next_run_at): an idle runner reads the first entry to know when
-- to lease without a signal, instead of trying a lease every few hundred ms. Partial: a job enqueued to
-- run at once has run_at = created_at and never enters it, so intake writes no more than before.
CREATE INDEX jobs_delayed ON jobs (run_at) WHERE state = 'queued' AND run_at > created_at
