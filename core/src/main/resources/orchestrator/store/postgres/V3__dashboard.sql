-- The dashboard's reads, as V8__jobs_by_finished.sql gives SQLite: count_by_project_and_state and
-- finished_since, read once a second for every open dashboard together, each from an index that covers
-- it (an index-only scan); jobs_by_finished is partial: queued and running jobs, the rows written most,
-- are not in it. jobs_by_project_id: a scoped token's (or a project filter's) job list walks only its
-- project's jobs, newest first (list_jobs_of_project).
CREATE INDEX jobs_by_finished ON jobs (finished_at) INCLUDE (project, state, cost_usd, tokens_in, tokens_out)
    WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_by_project_state ON jobs (project, state);
CREATE INDEX jobs_by_project_id ON jobs (project, id);
