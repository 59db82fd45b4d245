-- Opens run $1 for an execution in one statement: claims it for $2 until $4
-- as workflow_claim.sql does (unless another owner's lease has not ended by
-- $3), and returns the run as it was before the claim (the columns of
-- workflow_get.sql), whether it was claimed, and, if it was, its checkpoints
-- as a JSON array in position order. No row: no such run.
WITH claimed AS (
    UPDATE {schema}.workflow_runs
    SET owner = $2, lease_until = $4
    WHERE id = $1 AND status = 'running'
      AND (owner IS NULL OR owner = $2 OR lease_until IS NULL OR lease_until <= $3)
    RETURNING id
)
SELECT r.id, r.workflow, r.status, r.queue, r.args::text AS args, r.result::text AS result, r.error,
       r.wait_topic, r.resume_at, r.suspended_at, r.owner, r.lease_until,
       r.max_run_time_ms, r.max_suspended_time_ms, r.created_at, r.updated_at,
       (SELECT count(*) FROM {schema}.workflow_checkpoints AS c WHERE c.run_id = r.id) AS cursor,
       CASE WHEN EXISTS (SELECT 1 FROM claimed) THEN (
           SELECT coalesce(json_agg(json_build_object('position', c.position, 'name', c.name, 'value', c.value,
                                                      'at', c.at) ORDER BY c.position), '[]')::text
           FROM {schema}.workflow_checkpoints AS c WHERE c.run_id = r.id
       ) END AS checkpoints
FROM {schema}.workflow_runs AS r
WHERE r.id = $1
