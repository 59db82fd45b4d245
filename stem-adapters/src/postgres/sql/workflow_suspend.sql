-- Suspends the run $1 if it is running and $2 holds its lease: records the
-- checkpoint ($3 position, $4 name, $5 value as JSON, $6 time; all null for
-- none) unless its position is taken (then nothing changes), registers the
-- watcher ($8 topic, $9 position, $10 step; all null for none) with the
-- deadline $7, and sets the status to suspended until $7 on $8 at $11,
-- releasing the lease. One row changed: suspended.
WITH run AS (
    SELECT id FROM {schema}.workflow_runs
    WHERE id = $1 AND status = 'running' AND owner = $2
    FOR UPDATE
), saved AS (
    INSERT INTO {schema}.workflow_checkpoints (run_id, position, name, value, at)
    SELECT id, $3, $4, $5::jsonb, $6 FROM run
    WHERE $3::bigint IS NOT NULL
    ON CONFLICT (run_id, position) DO NOTHING
    RETURNING run_id
), allowed AS (
    SELECT id FROM run WHERE $3::bigint IS NULL OR EXISTS (SELECT 1 FROM saved)
), watched AS (
    INSERT INTO {schema}.workflow_watchers (run_id, topic, position, step, deadline, created_at)
    SELECT id, $8, $9, $10, $7, $11 FROM allowed
    WHERE $8::text IS NOT NULL
)
UPDATE {schema}.workflow_runs AS r
SET status = 'suspended', resume_at = $7, suspended_at = $11, wait_topic = $8,
    owner = NULL, lease_until = NULL, updated_at = $11
FROM allowed
WHERE r.id = allowed.id
