-- Sets a run's cursor (how many checkpoints it has) and last change.
-- ?1 id, ?2 at.
UPDATE stem_workflow_runs SET cursor = (SELECT count(*) FROM stem_workflow_checkpoints WHERE run_id = ?1),
       updated_at = ?2
WHERE id = ?1
