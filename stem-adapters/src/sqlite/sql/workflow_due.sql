-- The suspended runs whose resume time has come, soonest first.
-- Parameters: now, limit.
SELECT id, queue FROM stem_workflow_runs WHERE status = 'suspended' AND resume_at <= ?
ORDER BY resume_at, id LIMIT ?
