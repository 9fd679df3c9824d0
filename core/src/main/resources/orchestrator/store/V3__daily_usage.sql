-- Spending per project per UTC day, for MAX_DAILY_COST_USD and MAX_DAILY_API_CALLS.
-- project '' stands for jobs without a project.
CREATE TABLE daily_usage (
    project   TEXT NOT NULL,
    day       TEXT NOT NULL,
    cost_usd  REAL NOT NULL DEFAULT 0,
    api_calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project, day)
) WITHOUT ROWID
