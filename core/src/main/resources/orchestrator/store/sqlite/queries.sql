-- SQLite's own statements, read after ../queries.sql: those whose SQL is SQLite's (rowid, ifnull
-- matching an index expression, json_each, PRAGMA, VACUUM INTO).

-- name: find_by_idempotency_key
SELECT id, state FROM jobs WHERE ifnull(project, '') = ? AND idempotency_key = ?

-- name: lease_one
-- One due job, best first; a job whose concurrency_key is running is passed over. Run inside
-- BEGIN IMMEDIATE, so no other process can lease between the choice and the update.
UPDATE jobs
   SET state = 'running', lease_owner = ?, lease_token = lease_token + 1, lease_expires_at = ?,
       started_at = ifnull(started_at, ?), updated_at = ?
 WHERE id = (SELECT j.id FROM jobs j
              WHERE j.state = 'queued' AND j.run_at <= ?
                AND (j.concurrency_key IS NULL OR NOT EXISTS (
                       SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.concurrency_key = j.concurrency_key))
              ORDER BY j.priority DESC, j.rowid
              LIMIT 1)
RETURNING id, lease_token, attempt, project, source_type, source_meta, spec, resume_step

-- name: list_jobs
-- Keyset paging, newest first, on the primary key: a job id begins with its creation time (Ids), so
-- "id < ?5 ORDER BY id DESC" walks the id index backwards from the cursor and stops after LIMIT rows;
-- a page never reads the rows of the pages before it, and needs no sort. The first page passes 'g',
-- which sorts after every lower-case hex id, rather than NULL: "?5 IS NULL OR id < ?5" would keep
-- SQLite from using the index range. The filters are all written "?n IS NULL OR ..." on purpose: they
-- are checked on the rows the walk meets and keep the planner off the state and project indexes, which
-- would sort every matching row on every page (SqliteJobStoreTest checks the plan). A rare filter
-- therefore reads more rows per page, never more than the table once over the whole paging.
-- ?1 projects (JSON array) or NULL for all; ?2 1 to include jobs without a project; ?3 state; ?4 rows;
-- ?5 id bound; ?6 tag; ?7 source type; ?8 created_at >= (ms); ?9 created_at < (ms); ?10 agent of a step;
-- ?11 text in the goal (ASCII case ignored; instr: % and _ are plain characters)
SELECT * FROM jobs
 WHERE id < ?5
   AND (?1 IS NULL OR project IN (SELECT value FROM json_each(?1)) OR (?2 = 1 AND project IS NULL))
   AND (?3 IS NULL OR state = ?3)
   AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(spec, '$.tags') WHERE value = ?6))
   AND (?7 IS NULL OR source_type = ?7)
   AND (?8 IS NULL OR created_at >= ?8)
   AND (?9 IS NULL OR created_at < ?9)
   AND (?10 IS NULL OR EXISTS (SELECT 1 FROM json_each(spec, '$.steps') WHERE json_extract(value, '$.agent') = ?10))
   AND (?11 IS NULL OR instr(lower(json_extract(spec, '$.goal')), lower(?11)) > 0)
 ORDER BY id DESC
 LIMIT ?4

-- name: list_jobs_of_project
-- list_jobs for one project (a scoped token, or a project filter), walking jobs_by_project_id (V8) from the
-- cursor: only that project's jobs are read, however many other jobs are newer. page() runs it once per
-- project of a small set and merges; the parameters are list_jobs' with ?1 one project id ("?2 = ?2" only
-- binds ?2, which SQLite requires of every number up to the highest).
SELECT * FROM jobs
 WHERE project = ?1 AND id < ?5
   AND (?3 IS NULL OR state = ?3)
   AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(spec, '$.tags') WHERE value = ?6))
   AND (?7 IS NULL OR source_type = ?7)
   AND (?8 IS NULL OR created_at >= ?8)
   AND (?9 IS NULL OR created_at < ?9)
   AND (?10 IS NULL OR EXISTS (SELECT 1 FROM json_each(spec, '$.steps') WHERE json_extract(value, '$.agent') = ?10))
   AND (?11 IS NULL OR instr(lower(json_extract(spec, '$.goal')), lower(?11)) > 0)
   AND ?2 = ?2
 ORDER BY id DESC
 LIMIT ?4

-- name: backup
-- a consistent copy of the live database, taken in one read transaction; writers are not blocked (WAL)
VACUUM INTO ?

-- name: stats_jobs
-- for /metrics: jobs per state and project ('' for none)
SELECT state, ifnull(project, ''), count(*) FROM jobs GROUP BY 1, 2

-- name: stats_steps
-- for /metrics: steps per agent and status, with what they cost, per project
SELECT ifnull(j.project, ''), ifnull(s.agent, ''), s.status, count(*), sum(s.cost_usd), sum(s.tokens_in), sum(s.tokens_out)
  FROM job_steps s JOIN jobs j ON j.id = s.job_id
 GROUP BY 1, 2, 3

-- name: stats_durations
-- for /metrics: cumulative histogram of finished jobs' run time (started_at to finished_at), in ms;
-- ?1..?7 are the bucket bounds in ms, ascending
SELECT count(*), ifnull(sum(d), 0),
       ifnull(sum(d <= ?1), 0), ifnull(sum(d <= ?2), 0), ifnull(sum(d <= ?3), 0), ifnull(sum(d <= ?4), 0),
       ifnull(sum(d <= ?5), 0), ifnull(sum(d <= ?6), 0), ifnull(sum(d <= ?7), 0)
  FROM (SELECT finished_at - started_at AS d FROM jobs
         WHERE state IN ('succeeded', 'failed', 'cancelled') AND started_at IS NOT NULL AND finished_at IS NOT NULL)

-- name: integrity_check
-- restore: a backup must answer one row 'ok'
PRAGMA integrity_check

-- name: schema_version
PRAGMA user_version

-- name: table_names
SELECT name FROM sqlite_master WHERE type = 'table'

-- name: checkpoint_truncate
-- restore: folds the WAL into the database file, so the file kept aside is complete by itself
PRAGMA wal_checkpoint(TRUNCATE)

-- name: next_run_at
-- as ../queries.sql's, pinned to its index: without statistics SQLite would walk every queued job
-- through jobs_by_state_priority (SqliteJobStoreTest checks the plan)
SELECT min(run_at) AS due FROM jobs INDEXED BY jobs_delayed WHERE state = 'queued' AND run_at > created_at AND run_at > ?1

-- name: next_lease_expiry
-- as ../queries.sql's, pinned to its index for the same reason
SELECT min(lease_expires_at) AS due FROM jobs INDEXED BY jobs_expiring WHERE state = 'running'
