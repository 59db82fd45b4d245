-- Moves the end of the lease ?2 holds on the running run ?1 to ?3.
-- One row changed: renewed.
UPDATE stem_workflow_runs SET lease_until = ?3 WHERE id = ?1 AND status = 'running' AND owner = ?2
