-- Every statement both stores run, by name (a dialect's own queries.sql, read after this one,
-- holds the statements whose SQL differs). The store checks each conditional write's row
-- count: 0 means another process won, 1 is success.

-- name: insert_job
INSERT INTO jobs (id, project, source_type, source_meta, spec, state, priority, run_at, created_at, updated_at,
                  idempotency_key, concurrency_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING

-- name: insert_event
INSERT INTO job_events (job_id, at, actor, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?, ?)

-- name: heartbeat
UPDATE jobs SET lease_expires_at = ?, updated_at = ?
 WHERE id = ? AND lease_token = ? AND state = 'running'
RETURNING cancel_requested

-- name: upsert_step
-- only while the lease (the last two parameters) holds: 0 rows means the lease is lost
INSERT INTO job_steps (job_id, step_id, idx, agent, status, exit_code, error_code, error_message, started_at,
                       finished_at, cost_usd, tokens_in, tokens_out)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ? AND lease_token = ? AND state = 'running')
ON CONFLICT (job_id, step_id) DO UPDATE SET
    idx = excluded.idx, agent = excluded.agent, status = excluded.status, exit_code = excluded.exit_code,
    error_code = excluded.error_code, error_message = excluded.error_message, started_at = excluded.started_at,
    finished_at = excluded.finished_at, cost_usd = excluded.cost_usd, tokens_in = excluded.tokens_in,
    tokens_out = excluded.tokens_out

-- name: finish
UPDATE jobs
   SET state = ?, finished_at = ?, updated_at = ?, result = ?, error_code = ?, error_message = ?,
       cost_usd = ?, tokens_in = ?, tokens_out = ?, resume_step = ?,
       lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
 WHERE id = ? AND lease_token = ? AND state = 'running'

-- name: release
UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
 WHERE id = ? AND lease_token = ? AND state = 'running'

-- name: select_expired
SELECT id, lease_token, attempt, cancel_requested, lease_owner FROM jobs
 WHERE state = 'running' AND lease_expires_at < ?
 LIMIT 500

-- name: next_run_at
-- ?1 now. The earliest run_at still ahead of a queued job that was delayed (run_at later than its
-- creation: a delayed start, or a delayed job approved): when an idle runner must lease without a
-- signal. Read through jobs_delayed, a partial index that a job enqueued to run at once never enters.
SELECT min(run_at) AS due FROM jobs WHERE state = 'queued' AND run_at > created_at AND run_at > ?1

-- name: next_lease_expiry
-- through jobs_expiring: the first entry
SELECT min(lease_expires_at) AS due FROM jobs WHERE state = 'running'

-- name: requeue_expired
UPDATE jobs SET state = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
 WHERE id = ? AND lease_token = ? AND state = 'running'

-- name: end_expired
-- returns what the job's callback is made of (JdbcJobStore.endedCallback)
UPDATE jobs SET state = ?, error_code = ?, error_message = ?, finished_at = ?, updated_at = ?,
       lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
 WHERE id = ? AND lease_token = ? AND state = 'running'
RETURNING spec, result, started_at, attempt

-- name: find_job
-- The columns a JobView is made of, by name, never *: on PostgreSQL a prepared "SELECT *" fails once a newer build
-- added a column ("cached plan must not change result type"), which would break this build's processes during a
-- rolling upgrade (PostgresStoreTest). list_jobs and list_jobs_of_project of postgres/queries.sql read the same list.
SELECT id, project, source_type, source_meta, state, attempt, priority, spec, result, error_code, error_message, cost_usd,
       tokens_in, tokens_out, cancel_requested, lease_owner, resume_step, created_at, started_at, finished_at
  FROM jobs WHERE id = ?

-- name: find_steps
SELECT step_id, idx, agent, status, exit_code, error_code, error_message, started_at, finished_at, cost_usd, tokens_in,
       tokens_out
  FROM job_steps WHERE job_id = ? ORDER BY idx

-- name: list_events
SELECT id, job_id, at, actor, from_state, to_state, reason FROM job_events WHERE job_id = ? ORDER BY id

-- name: count_by_state
SELECT state, count(*) FROM jobs GROUP BY state

-- name: count_by_project_and_state
-- The dashboard's counts, for every token at once: each sums the projects it sees. A pass over the
-- covering index jobs_by_project_state (V8), never the table; the dashboard reads it once a second.
SELECT project, state, count(*) FROM jobs GROUP BY project, state

-- name: finished_since
-- Jobs finished at or after ?1 (ms), per project, minute, and final state, with their cost and tokens: the
-- dashboard's throughput chart and today's spend. Reads only the recent entries of the covering index
-- jobs_by_finished (V8), never the table.
SELECT project, finished_at / 60000 AS minute, state, count(*) AS n, sum(cost_usd) AS cost,
       sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out
  FROM jobs
 WHERE finished_at >= ?1
 GROUP BY project, minute, state

-- name: job_state
SELECT state, cancel_requested FROM jobs WHERE id = ?

-- name: transition
UPDATE jobs SET state = ?, updated_at = ? WHERE id = ? AND state = ?

-- name: cancel_now
-- cancel or reject of a job no runner holds; returns what its callback is made of (JdbcJobStore.endedCallback)
UPDATE jobs SET state = 'cancelled', error_code = 'cancelled', error_message = ?, finished_at = ?, updated_at = ?
 WHERE id = ? AND state = ?
RETURNING spec, result, started_at, attempt

-- name: request_cancel
UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND state = 'running'

-- name: reset_for_retry
UPDATE jobs
   SET state = 'queued', attempt = 1, run_at = ?, updated_at = ?, started_at = NULL, finished_at = NULL, result = NULL,
       error_code = NULL, error_message = NULL, resume_step = NULL, cancel_requested = 0,
       cost_usd = 0, tokens_in = 0, tokens_out = 0
 WHERE id = ? AND state = ?

-- name: continue_job
-- ?1 spec with the added step, ?2 that step (where the run resumes), ?3 run_at, ?4 updated_at, ?5 id, ?6 state read.
-- The result, cost and tokens stay: the runner reads the earlier steps from them and adds to them.
UPDATE jobs
   SET state = 'queued', spec = ?, resume_step = ?, attempt = 1, run_at = ?, updated_at = ?, finished_at = NULL,
       error_code = NULL, error_message = NULL, cancel_requested = 0
 WHERE id = ? AND state = ?

-- name: delete_steps
DELETE FROM job_steps WHERE job_id = ?

-- name: ready_write
-- a committed one-row write: proves the lock can be taken and the disk takes a WAL frame
UPDATE store_probe SET at = ? WHERE id = 1

-- name: insert_fire
INSERT INTO schedule_fires (schedule_id, fire_time, job_id, outcome, reason, created_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING

-- name: schedule_has_active_job
SELECT 1 FROM schedule_fires f JOIN jobs j ON j.id = f.job_id
 WHERE f.schedule_id = ? AND j.state NOT IN ('succeeded', 'failed', 'cancelled')
 LIMIT 1

-- name: recent_fires
SELECT f.schedule_id, f.fire_time, f.job_id, f.outcome, f.reason, j.state
  FROM schedule_fires f LEFT JOIN jobs j ON j.id = f.job_id
 WHERE f.schedule_id = ?
 ORDER BY f.fire_time DESC
 LIMIT ?

-- name: start_api_call
-- Counts one agent call if the day's limits allow it; 0 rows changed means over budget.
-- ?3, ?4: limits (0 = unlimited). The first call of a day inserts the row.
INSERT INTO daily_usage (project, day, cost_usd, api_calls) VALUES (?1, ?2, 0, 1)
ON CONFLICT (project, day) DO UPDATE SET api_calls = api_calls + 1
 WHERE (?3 = 0 OR api_calls < ?3) AND (?4 = 0 OR cost_usd < ?4)

-- name: add_cost
INSERT INTO daily_usage (project, day, cost_usd, api_calls) VALUES (?, ?, ?, 0)
ON CONFLICT (project, day) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd

-- name: daily_usage
SELECT cost_usd, api_calls FROM daily_usage WHERE project = ? AND day = ?

-- name: stats_leases_lost
-- for /metrics: leases that expired (requeued or ended), as requeueExpired records them
SELECT count(*) FROM job_events WHERE from_state = 'running' AND reason LIKE 'lease of % expired%'

-- name: insert_callback
-- in the transaction of the job's final write (finish, cancel_now, end_expired); a job ends once, a retried job again
INSERT INTO callbacks (job_id, url, payload, attempts, next_attempt_at, claimed_until, status, last_error, created_at)
VALUES (?, ?, ?, 0, ?, NULL, 'pending', NULL, ?)
ON CONFLICT (job_id) DO UPDATE SET url = excluded.url, payload = excluded.payload, attempts = 0,
       next_attempt_at = excluded.next_attempt_at, claimed_until = NULL, status = 'pending', last_error = NULL

-- name: claim_callbacks
-- ?1 claimed_until, ?2 now, ?3 max rows; counts the attempt at claim time, so a runner that dies
-- after claiming uses up that attempt (the hook may have received it: at-least-once)
UPDATE callbacks SET claimed_until = ?1, attempts = attempts + 1
 WHERE job_id IN (SELECT job_id FROM callbacks
                   WHERE status = 'pending' AND next_attempt_at <= ?2 AND (claimed_until IS NULL OR claimed_until <= ?2)
                   ORDER BY next_attempt_at LIMIT ?3)
   AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= ?2)
RETURNING job_id, url, payload, attempts, next_attempt_at, status, last_error

-- name: next_callback_at
-- when claim_callbacks can next claim a pending callback: its next attempt, or the end of another
-- runner's claim on it, whichever is later. Pending callbacks are few (those waiting for a retry).
SELECT min(CASE WHEN claimed_until > next_attempt_at THEN claimed_until ELSE next_attempt_at END) AS due
  FROM callbacks WHERE status = 'pending'

-- name: callback_result
-- ?1 status, ?2 next_attempt_at, ?3 last_error, ?4 job_id, ?5 the attempt that was claimed
UPDATE callbacks SET status = ?1, next_attempt_at = ?2, last_error = ?3, claimed_until = NULL
 WHERE job_id = ?4 AND attempts = ?5 AND status = 'pending'

-- name: find_callback
SELECT job_id, url, payload, attempts, next_attempt_at, status, last_error FROM callbacks WHERE job_id = ?

-- name: runner_heartbeat
-- ?1 id, ?2 host, ?3 pid, ?4 version, ?5 slots, ?6 running_jobs (JSON), ?7 draining, ?8 started_at,
-- ?9 now. Registers the runner or refreshes its row. A row marked stopped is revived only by a new
-- start (another started_at): a beat of the same run that lands after its stop changes nothing.
INSERT INTO runners (id, host, pid, version, slots, running_jobs, draining, started_at, last_heartbeat, stopped_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)
ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, version = excluded.version,
       slots = excluded.slots, running_jobs = excluded.running_jobs, draining = excluded.draining,
       started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat, stopped_at = NULL
 WHERE runners.stopped_at IS NULL OR runners.started_at <> excluded.started_at

-- name: runner_stopped
-- ?1 now, ?2 id, ?3 started_at: only the run that registered the row can mark it stopped
UPDATE runners SET stopped_at = ?1, last_heartbeat = ?1, running_jobs = '[]', draining = 0
 WHERE id = ?2 AND started_at = ?3 AND stopped_at IS NULL

-- name: list_runners
-- clock_skew_ms: NULL here, where every process shares one host's clock (PostgreSQL's own reads the column)
SELECT id, host, pid, version, slots, running_jobs, draining, started_at, last_heartbeat, stopped_at, NULL AS clock_skew_ms
  FROM runners ORDER BY host, id

-- name: prune_runners
-- ?1 the oldest last_heartbeat kept
DELETE FROM runners WHERE last_heartbeat < ?1

-- name: pause_schedule
-- ?1 schedule id, ?2 now, ?3 actor. 1 row when it was running (a first pause inserts the row), 0 when already paused.
INSERT INTO schedule_state (schedule_id, paused, paused_at, paused_by) VALUES (?1, 1, ?2, ?3)
ON CONFLICT (schedule_id) DO UPDATE SET paused = 1, paused_at = excluded.paused_at, paused_by = excluded.paused_by
 WHERE paused = 0

-- name: resume_schedule
-- ?1 now, ?2 actor, ?3 schedule id. 0 rows when it was not paused.
UPDATE schedule_state SET paused = 0, resumed_at = ?1, resumed_by = ?2 WHERE schedule_id = ?3 AND paused = 1

-- name: schedule_states
SELECT schedule_id, paused, paused_at, paused_by, resumed_at, resumed_by FROM schedule_state

-- name: count_jobs
SELECT count(*) FROM jobs


-- ---------------------------------------------------------------- dashboard sessions (ui_sessions)
-- id_hash is the SHA-256 (hex) of the cookie's session id, never the id; token_digest the token's.

-- name: ui_session_insert
-- ?1 id_hash, ?2 token_digest, ?3 csrf, ?4 now (created and last seen)
INSERT INTO ui_sessions (id_hash, token_digest, csrf, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)

-- name: ui_session_trim_token
-- ?1 token_digest, ?2 how many of its other sessions are kept, ?3 the new session's id_hash (always kept):
-- the newest sign-ins stay, older ones go
DELETE FROM ui_sessions
 WHERE token_digest = ?1 AND id_hash <> ?3
   AND id_hash NOT IN (SELECT id_hash FROM ui_sessions WHERE token_digest = ?1 AND id_hash <> ?3
                        ORDER BY created_at DESC, id_hash DESC LIMIT ?2)

-- name: ui_session_count
SELECT count(*) FROM ui_sessions

-- name: ui_session_trim_all
-- ?1 how many other sessions are kept in all, ?2 the new session's id_hash (always kept): the newest stay
DELETE FROM ui_sessions
 WHERE id_hash <> ?2
   AND id_hash NOT IN (SELECT id_hash FROM ui_sessions WHERE id_hash <> ?2
                        ORDER BY created_at DESC, id_hash DESC LIMIT ?1)

-- name: ui_session_find
SELECT token_digest, csrf, created_at, last_seen_at FROM ui_sessions WHERE id_hash = ?1

-- name: ui_session_touch
-- ?1 now, ?2 id_hash, ?3 now - UiSession.TOUCH_EVERY: it moves at most once a minute, and never back
UPDATE ui_sessions SET last_seen_at = ?1 WHERE id_hash = ?2 AND last_seen_at <= ?3

-- name: ui_session_delete
DELETE FROM ui_sessions WHERE id_hash = ?1

-- name: ui_session_delete_expired
-- ?1 the oldest last_seen_at kept (now - idle), ?2 the oldest created_at kept (now - lifetime), ?3 at most this many rows
DELETE FROM ui_sessions
 WHERE id_hash IN (SELECT id_hash FROM ui_sessions WHERE last_seen_at < ?1 OR created_at < ?2 LIMIT ?3)
