-- A run's checkpoints, in order. Parameter: run id.
SELECT position, name, value, at FROM stem_workflow_checkpoints WHERE run_id = ? ORDER BY position
