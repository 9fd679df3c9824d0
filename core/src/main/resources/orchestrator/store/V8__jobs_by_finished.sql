-- The dashboard's throughput chart and today's spend read the jobs finished in a recent window
-- (finished_since); without this index that is a pass over every job. Partial: queued and running jobs,
-- the ones written most, are not in it.
CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL
