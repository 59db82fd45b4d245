-- Records the error ?2 at ?3 on the run ?1 unless it has ended.
-- One row changed: recorded.
UPDATE stem_workflow_runs SET error = ?2, updated_at = ?3
WHERE id = ?1 AND status NOT IN ('completed', 'failed', 'cancelled')
