-- Removes a run's watchers. Parameter: run id.
DELETE FROM stem_workflow_watchers WHERE run_id = ?
