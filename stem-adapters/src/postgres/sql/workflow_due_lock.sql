-- Locks up to $2 suspended runs whose wake time is at or before $1, earliest
-- first, skipping runs another caller holds.
SELECT id FROM {schema}.workflow_runs
WHERE status = 'suspended' AND resume_at <= $1
ORDER BY resume_at, id
LIMIT $2
FOR UPDATE SKIP LOCKED
