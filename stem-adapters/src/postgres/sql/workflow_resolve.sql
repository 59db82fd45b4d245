-- Delivers an event to the runs $1 (locked by workflow_resolve_lock.sql) that
-- are still suspended on the topic $2: records the value $3 (JSON) at $4 as
-- each one's watched checkpoint (its oldest watcher of the topic), removes its
-- watchers and makes it running again. Returns them, oldest watcher first.
WITH chosen AS (
    SELECT DISTINCT ON (w.run_id) w.run_id, w.seq, w.position, w.step
    FROM {schema}.workflow_watchers AS w
    JOIN {schema}.workflow_runs AS r ON r.id = w.run_id
    WHERE w.run_id = ANY($1::uuid[]) AND w.topic = $2 AND r.status = 'suspended'
    ORDER BY w.run_id, w.seq
), dropped AS (
    DELETE FROM {schema}.workflow_watchers WHERE run_id IN (SELECT run_id FROM chosen)
), saved AS (
    INSERT INTO {schema}.workflow_checkpoints (run_id, position, name, value, at)
    SELECT run_id, position, step, $3::jsonb, $4 FROM chosen
    ON CONFLICT (run_id, position) DO UPDATE SET name = EXCLUDED.name, value = EXCLUDED.value, at = EXCLUDED.at
), woken AS (
    UPDATE {schema}.workflow_runs AS r
    SET status = 'running', wait_topic = NULL, resume_at = NULL, suspended_at = NULL, updated_at = $4
    FROM chosen
    WHERE r.id = chosen.run_id
    RETURNING r.id, r.queue, chosen.seq
)
SELECT id, queue FROM woken ORDER BY seq
