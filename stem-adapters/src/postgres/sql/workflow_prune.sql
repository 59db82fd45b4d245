-- Deletes up to $2 runs that ended (completed, failed or cancelled) at or
-- before $1 (their updated_at), oldest first, with their checkpoints and
-- watchers, skipping runs another caller holds. Returns how many.
WITH ended AS (
    SELECT id FROM {schema}.workflow_runs
    WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at <= $1
    ORDER BY updated_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), dropped_checkpoints AS (
    DELETE FROM {schema}.workflow_checkpoints WHERE run_id IN (SELECT id FROM ended)
), dropped_watchers AS (
    DELETE FROM {schema}.workflow_watchers WHERE run_id IN (SELECT id FROM ended)
), pruned AS (
    DELETE FROM {schema}.workflow_runs WHERE id IN (SELECT id FROM ended)
    RETURNING id
)
SELECT count(*) FROM pruned
