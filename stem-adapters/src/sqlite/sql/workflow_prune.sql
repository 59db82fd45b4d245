-- Runs that ended (completed, failed or cancelled) at or before a time (their
-- updated_at), oldest first. Parameters: that time, limit.
SELECT id FROM stem_workflow_runs WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at <= ?
ORDER BY updated_at, id LIMIT ?
