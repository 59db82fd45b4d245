-- Running runs with no live lease and no change since ?2, least recently
-- changed first. ?1 now, ?3 limit.
SELECT id, queue FROM stem_workflow_runs
WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= ?1) AND updated_at <= ?2
ORDER BY updated_at, id LIMIT ?3
