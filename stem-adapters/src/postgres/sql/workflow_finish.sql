-- Ends the run $1 (locked by workflow_lock.sql) in status $2 with result $3
-- (JSON) or error $4 at $6, and removes its watchers: with an owner $5, only
-- if it is running and $5 holds its lease; without, if it is not final yet.
-- Returns a row if it ended.
WITH ended AS (
    UPDATE {schema}.workflow_runs
    SET status = $2, result = $3::jsonb, error = $4, wait_topic = NULL, resume_at = NULL,
        suspended_at = NULL, owner = NULL, lease_until = NULL, updated_at = $6
    WHERE id = $1 AND CASE
        WHEN $5::text IS NULL THEN status NOT IN ('completed', 'failed', 'cancelled')
        ELSE status = 'running' AND owner = $5
    END
    RETURNING id
), dropped AS (
    DELETE FROM {schema}.workflow_watchers WHERE run_id IN (SELECT id FROM ended)
)
SELECT id FROM ended
