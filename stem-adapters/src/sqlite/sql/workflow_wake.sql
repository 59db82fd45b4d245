-- Makes a suspended run running again. Parameters: now, id.
UPDATE stem_workflow_runs SET status = 'running', wait_topic = NULL, resume_at = NULL, suspended_at = NULL,
       updated_at = ?
WHERE id = ?
