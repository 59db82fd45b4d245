-- Deletes a run's checkpoints at a position and after. Parameters: run id, position.
DELETE FROM stem_workflow_checkpoints WHERE run_id = ? AND position >= ?
