-- Makes the run ?1 running at ?2, whatever its status, with the cursor of the
-- checkpoints it has left and no result, error, suspension or lease.
-- One row changed: rewound.
UPDATE stem_workflow_runs SET status = 'running',
       cursor = (SELECT count(*) FROM stem_workflow_checkpoints WHERE run_id = ?1), result = NULL, error = NULL,
       wait_topic = NULL, resume_at = NULL, suspended_at = NULL, owner = NULL, lease_until = NULL, updated_at = ?2
WHERE id = ?1
