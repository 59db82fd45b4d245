-- Sets a run's last change. Parameters: now, id.
UPDATE stem_workflow_runs SET updated_at = ? WHERE id = ?
