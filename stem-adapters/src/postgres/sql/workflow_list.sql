-- Runs newest first, with their cursors. $1 workflow or null (any), $2 status
-- or null (any), $3 limit, $4 offset.
SELECT r.id, r.workflow, r.status, r.queue, r.args::text AS args, r.result::text AS result, r.error,
       r.wait_topic, r.resume_at, r.suspended_at, r.owner, r.lease_until,
       r.max_run_time_ms, r.max_suspended_time_ms, r.created_at, r.updated_at,
       (SELECT count(*) FROM {schema}.workflow_checkpoints AS c WHERE c.run_id = r.id) AS cursor
FROM {schema}.workflow_runs AS r
WHERE ($1::text IS NULL OR r.workflow = $1) AND ($2::text IS NULL OR r.status = $2)
ORDER BY r.created_at DESC, r.id DESC
LIMIT $3 OFFSET $4
