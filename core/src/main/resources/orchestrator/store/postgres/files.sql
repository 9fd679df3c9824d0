-- The statements of PostgresStoredFiles (StoredFiles on PostgreSQL), by name.

-- name: begin_log
-- the one way a log's generation begins, in one statement: the new generation with its first bytes from byte 0
-- (a short step's whole log, closed by the same write) or none (size 0: empty), and the last one's chunks
-- deleted; parameters: job, step, size, closed, at, bytes
WITH b AS (
    INSERT INTO stored_logs (job_id, step_id, generation, size, closed, updated_at) VALUES (?, ?, 1, ?, ?, ?)
    ON CONFLICT (job_id, step_id) DO UPDATE
        SET generation = stored_logs.generation + 1, size = EXCLUDED.size, closed = EXCLUDED.closed, updated_at = EXCLUDED.updated_at
    RETURNING job_id, step_id, generation, size
), dropped AS (
    DELETE FROM stored_log_chunks o USING b
    WHERE o.job_id = b.job_id AND o.step_id = b.step_id AND o.generation < b.generation
), chunk AS (
    INSERT INTO stored_log_chunks (job_id, step_id, generation, start_offset, end_offset, data)
    SELECT b.job_id, b.step_id, b.generation, 0, b.size, ? FROM b WHERE b.size > 0
)
SELECT generation FROM b

-- name: lock_log
-- the row lock orders concurrent appends to one log (a shipper's retry racing its own earlier send)
SELECT size, closed FROM stored_logs WHERE job_id = ? AND step_id = ? AND generation = ? FOR UPDATE

-- name: insert_chunk
INSERT INTO stored_log_chunks (job_id, step_id, generation, start_offset, end_offset, data) VALUES (?, ?, ?, ?, ?, ?)

-- name: grow_log
-- the second parameter closes the log in the same write (a step's last chunk)
UPDATE stored_logs SET size = ?, closed = ?, updated_at = ? WHERE job_id = ? AND step_id = ? AND generation = ?

-- name: close_log
UPDATE stored_logs SET closed = TRUE, updated_at = ? WHERE job_id = ? AND step_id = ? AND generation = ?

-- name: log_head
SELECT generation, size, closed FROM stored_logs WHERE job_id = ? AND step_id = ?

-- name: log_chunks
SELECT start_offset, data FROM stored_log_chunks
WHERE job_id = ? AND step_id = ? AND generation = ? AND end_offset > ?
ORDER BY end_offset LIMIT ?

-- name: logged_steps
SELECT step_id, generation, size, closed, updated_at FROM stored_logs WHERE job_id = ? ORDER BY step_id

-- name: put_artifacts
-- a batch of one job's files in one statement (putArtifacts passes each path once: the last upload of it)
INSERT INTO stored_artifacts (job_id, path, size, cut, content, updated_at)
SELECT ?, u.path, u.size, u.cut, u.content, ?
FROM unnest(?::text[], ?::bigint[], ?::boolean[], ?::bytea[]) AS u(path, size, cut, content)
ON CONFLICT (job_id, path) DO UPDATE
    SET size = EXCLUDED.size, cut = EXCLUDED.cut, content = EXCLUDED.content, updated_at = EXCLUDED.updated_at

-- name: artifact
SELECT size, cut, content, updated_at FROM stored_artifacts WHERE job_id = ? AND path = ?

-- name: artifacts
SELECT path, size, cut, updated_at FROM stored_artifacts WHERE job_id = ? ORDER BY path

-- name: notify_each
-- one notification per job (a group's commit: each of its jobs; a write alone: its job), in one statement
SELECT pg_notify('orch_files', id) FROM unnest(?::text[]) AS id

-- name: delete_chunks
DELETE FROM stored_log_chunks WHERE job_id = ?

-- name: delete_logs
DELETE FROM stored_logs WHERE job_id = ?

-- name: delete_artifacts
DELETE FROM stored_artifacts WHERE job_id = ?

-- name: jobs_written_before
-- candidates only (the index on updated_at finds them): retention checks each job's state in the job store
SELECT job_id FROM (
    SELECT job_id FROM stored_logs WHERE updated_at < ? AND job_id > ?
    UNION
    SELECT job_id FROM stored_artifacts WHERE updated_at < ? AND job_id > ?
) t ORDER BY job_id LIMIT ?
