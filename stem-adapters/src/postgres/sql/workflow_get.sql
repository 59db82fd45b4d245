-- A run, with its cursor (how many checkpoints it has). $1 id.
SELECT r.id, r.workflow, r.status, r.queue, r.args::text AS args, r.result::text AS result, r.error,
       r.wait_topic, r.resume_at, r.suspended_at, r.owner, r.lease_until,
       r.max_run_time_ms, r.max_suspended_time_ms, r.created_at, r.updated_at,
       (SELECT count(*) FROM {schema}.workflow_checkpoints AS c WHERE c.run_id = r.id) AS cursor
FROM {schema}.workflow_runs AS r
WHERE r.id = $1
