-- Creates a run, status running, unless its id is taken (then no row changes).
-- $1 id, $2 workflow, $3 queue, $4 args (JSON), $5 max run time and $6 max
-- suspended time in milliseconds, $7 the time of creating.
INSERT INTO {schema}.workflow_runs
    (id, workflow, status, queue, args, max_run_time_ms, max_suspended_time_ms, created_at, updated_at)
VALUES ($1, $2, 'running', $3, $4::jsonb, $5, $6, $7, $7)
ON CONFLICT (id) DO NOTHING
