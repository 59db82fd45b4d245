-- Takes a running run's lease for ?2 until ?4, unless another owner holds one
-- that has not ended by ?3. ?1 run id. One row changed: taken.
UPDATE stem_workflow_runs SET owner = ?2, lease_until = ?4
WHERE id = ?1 AND status = 'running' AND (owner IS NULL OR owner = ?2 OR lease_until IS NULL OR lease_until <= ?3)
