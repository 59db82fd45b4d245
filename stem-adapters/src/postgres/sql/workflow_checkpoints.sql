-- A run's checkpoints in position order. $1 run id.
SELECT position, name, value::text AS value, at
FROM {schema}.workflow_checkpoints
WHERE run_id = $1
ORDER BY position
