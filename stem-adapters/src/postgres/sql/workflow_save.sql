-- Records a checkpoint of the run $1 if it is running, $2 holds its lease and
-- the position $3 is free, and sets the run's `updated_at` to the checkpoint's
-- time. $4 name, $5 value (JSON), $6 time. One row changed: recorded.
WITH run AS (
    SELECT id FROM {schema}.workflow_runs
    WHERE id = $1 AND status = 'running' AND owner = $2
    FOR UPDATE
), saved AS (
    INSERT INTO {schema}.workflow_checkpoints (run_id, position, name, value, at)
    SELECT id, $3, $4, $5::jsonb, $6 FROM run
    ON CONFLICT (run_id, position) DO NOTHING
    RETURNING run_id
)
UPDATE {schema}.workflow_runs AS r
SET updated_at = $6
FROM saved
WHERE r.id = saved.run_id
