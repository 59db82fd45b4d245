-- A row if the run is running and the owner holds its lease.
-- Parameters: id, owner.
SELECT 1 FROM stem_workflow_runs WHERE id = ? AND status = 'running' AND owner = ?
