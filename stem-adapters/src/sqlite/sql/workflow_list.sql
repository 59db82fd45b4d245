-- Runs newest first: every column, in the order read_run (workflow.rs) reads.
-- ?1 workflow or null (any), ?2 status or null (any), ?3 limit, ?4 offset.
SELECT id, workflow, status, queue, args, cursor, result, error, wait_topic, resume_at, suspended_at,
       owner, lease_until, max_run_ms, max_suspended_ms, created_at, updated_at
FROM stem_workflow_runs
WHERE (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR status = ?2)
ORDER BY created_at DESC, id DESC
LIMIT ?3 OFFSET ?4
