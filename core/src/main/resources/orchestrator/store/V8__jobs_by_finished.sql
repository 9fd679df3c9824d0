-- The dashboard's counts and charts (count_by_project_and_state, finished_since), read once a second
-- for every open dashboard together. Both indexes cover their query, so neither reads the table:
-- on 100,000 jobs 23 ms and 48 ms instead of 128 ms and 164 ms (docs/PERFORMANCE.md, Dashboard).
-- jobs_by_finished is partial: queued and running jobs, the rows written most, are not in it.
CREATE INDEX jobs_by_finished ON jobs (finished_at, project, state, cost_usd, tokens_in, tokens_out)
    WHERE finished_at IS NOT NULL
;
CREATE INDEX jobs_by_project_state ON jobs (project, state)
;
-- A scoped token's (or a project filter's) job list walks only its project's jobs, newest first
-- (list_jobs_of_project): without it the id walk reads every newer job of every other project.
CREATE INDEX jobs_by_project_id ON jobs (project, id)
