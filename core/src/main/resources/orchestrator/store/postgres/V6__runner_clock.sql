-- How far each runner's clock is from the server's, as of its last heartbeat (its own time minus the
-- server's when the write ran): doctor, GET /runners and /metrics on any host show a runner host whose
-- clock drifted, which hands out live leases as expired ones. NULL for a runner of an older build.
ALTER TABLE runners ADD COLUMN clock_skew_ms bigint;
