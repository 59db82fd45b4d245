-- Deletes a run's checkpoints. Parameter: run id.
DELETE FROM stem_workflow_checkpoints WHERE run_id = ?
