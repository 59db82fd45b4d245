-- Touches (updated_at = $2) up to $3 running runs nobody holds (no lease, or
-- one ended by $2) unchanged since $1, skipping runs another caller holds.
-- Returns them, longest idle first.
WITH stale AS (
    SELECT id, updated_at FROM {schema}.workflow_runs
    WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= $2) AND updated_at <= $1
    ORDER BY updated_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), touched AS (
    UPDATE {schema}.workflow_runs AS r
    SET updated_at = $2
    FROM stale
    WHERE r.id = stale.id
    RETURNING r.id, r.queue, stale.updated_at AS idle_since
)
SELECT id, queue FROM touched ORDER BY idle_since, id
