-- orchestrator migrate: copies a SQLite store into an empty PostgreSQL store. The copy is generic
-- over the tables both stores have: {table} and {columns} are filled in from the catalog of each
-- side (names only, never data), so a column that either store adds later is copied without
-- touching this file. Every statement that reads the source runs on SQLite, the others on PostgreSQL.

-- name: source_tables
SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'

-- name: source_columns
SELECT name FROM pragma_table_info(?)

-- name: source_rows
-- ordered by the primary key (rowid for tables that have one), so that a re-read counts the same rows
SELECT {columns} FROM {table} ORDER BY 1

-- name: count_rows
SELECT count(*) FROM {table}

-- name: target_columns
-- the target's own columns, in order, with what the copy must know to convert a value
SELECT column_name, data_type, udt_name, is_identity, identity_generation
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ?
ORDER BY ordinal_position

-- name: insert_rows
INSERT INTO {table} ({columns}) {overriding} VALUES ({values})

-- name: lock_target
-- one migration at a time, and no store process's write between the empty check and the commit
-- (a runner leasing from the half-copied store would be worse than a refused start)
LOCK TABLE {table} IN EXCLUSIVE MODE

-- name: serial_columns
-- the columns fed by a sequence (job_events.id): after an explicit-id copy the sequence must move
-- past the copied ids, or the next insert collides with a copied row
SELECT column_name, pg_get_serial_sequence(quote_ident(table_name), column_name)
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ?
  AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL

-- name: advance_sequence
SELECT setval(?, GREATEST((SELECT coalesce(max({column}), 0) FROM {table}), 1), (SELECT count(*) > 0 FROM {table}))
