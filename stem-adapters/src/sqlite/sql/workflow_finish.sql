-- Ends the run ?1 with the status ?2 and the result ?3 or error ?4 (null: the
-- stored one stays) at ?5. With ?6 null, any run that has not ended; else only
-- a running run whose lease ?6 holds. One row changed: finished.
UPDATE stem_workflow_runs SET status = ?2, result = COALESCE(?3, result), error = COALESCE(?4, error),
       wait_topic = NULL, resume_at = NULL, suspended_at = NULL, owner = NULL, lease_until = NULL, updated_at = ?5
WHERE id = ?1
  AND CASE WHEN ?6 IS NULL THEN status NOT IN ('completed', 'failed', 'cancelled')
      ELSE status = 'running' AND owner = ?6 END
