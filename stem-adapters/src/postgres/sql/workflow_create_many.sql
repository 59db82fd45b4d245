-- Creates many runs, status running, each unless its id is taken (then that
-- one is left as it was), in one statement. Arrays: $1 id, $2 workflow, $3
-- queue, $4 args (JSON), $5 max run time and $6 max suspended time in
-- milliseconds, $7 the time of creating. Returns the ids created.
INSERT INTO {schema}.workflow_runs
    (id, workflow, status, queue, args, max_run_time_ms, max_suspended_time_ms, created_at, updated_at)
SELECT id, workflow, 'running', queue, args::jsonb, max_run, max_suspended, at, at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::timestamptz[])
    AS t(id, workflow, queue, args, max_run, max_suspended, at)
ON CONFLICT (id) DO NOTHING
RETURNING id
