-- Makes the runs $1 (locked by workflow_due_lock.sql) running again at $2 if
-- they are still suspended and due, removing their watchers. Returns them,
-- earliest wake time first.
WITH due AS (
    SELECT id, resume_at FROM {schema}.workflow_runs
    WHERE id = ANY($1::uuid[]) AND status = 'suspended' AND resume_at <= $2
), dropped AS (
    DELETE FROM {schema}.workflow_watchers WHERE run_id IN (SELECT id FROM due)
), woken AS (
    UPDATE {schema}.workflow_runs AS r
    SET status = 'running', wait_topic = NULL, resume_at = NULL, suspended_at = NULL, updated_at = $2
    FROM due
    WHERE r.id = due.id
    RETURNING r.id, r.queue, due.resume_at
)
SELECT id, queue FROM woken ORDER BY resume_at, id
