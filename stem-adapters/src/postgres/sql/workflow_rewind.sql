-- Rewinds the run $1 (locked by workflow_lock.sql) to the position $2 at $3,
-- whatever its status: deletes its checkpoints at $2 and after and its
-- watchers, and makes it running with no result, error, suspension or lease.
-- One row changed: rewound.
WITH dropped_checkpoints AS (
    DELETE FROM {schema}.workflow_checkpoints WHERE run_id = $1 AND position >= $2
), dropped_watchers AS (
    DELETE FROM {schema}.workflow_watchers WHERE run_id = $1
)
UPDATE {schema}.workflow_runs
SET status = 'running', result = NULL, error = NULL, wait_topic = NULL, resume_at = NULL,
    suspended_at = NULL, owner = NULL, lease_until = NULL, updated_at = $3
WHERE id = $1
