-- Gives up the owner's lease on a run. Parameters: id, owner.
UPDATE stem_workflow_runs SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ?
