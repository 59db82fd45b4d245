-- Suspends a run and gives up its lease. ?1 id, ?2 resume_at (null: none),
-- ?3 now, ?4 the topic it waits for (null: none).
UPDATE stem_workflow_runs SET status = 'suspended', resume_at = ?2, suspended_at = ?3, wait_topic = ?4,
       owner = NULL, lease_until = NULL, updated_at = ?3
WHERE id = ?1
