-- Records $2 as the last error of the run $1 at $3 without changing its status,
-- if it is not final yet. One row changed: recorded.
UPDATE {schema}.workflow_runs
SET error = $2, updated_at = $3
WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')
