-- A run: every column, in the order read_run (workflow.rs) reads. Parameter: id.
SELECT id, workflow, status, queue, args, cursor, result, error, wait_topic, resume_at, suspended_at,
       owner, lease_until, max_run_ms, max_suspended_ms, created_at, updated_at
FROM stem_workflow_runs
WHERE id = ?
