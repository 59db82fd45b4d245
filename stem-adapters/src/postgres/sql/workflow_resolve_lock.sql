-- Locks the suspended runs of up to $2 watchers of the topic $1, oldest
-- watcher first, skipping runs another caller holds.
SELECT r.id FROM {schema}.workflow_watchers AS w
JOIN {schema}.workflow_runs AS r ON r.id = w.run_id
WHERE w.topic = $1 AND r.status = 'suspended'
ORDER BY w.seq
LIMIT $2
FOR UPDATE OF r SKIP LOCKED
