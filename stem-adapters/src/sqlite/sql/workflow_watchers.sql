-- The watchers of a topic, oldest first. Parameters: topic, limit.
SELECT run_id, topic, position, step, deadline, created_at FROM stem_workflow_watchers WHERE topic = ?
ORDER BY seq LIMIT ?
