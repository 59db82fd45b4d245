-- The watchers of a topic, oldest first. Parameters: topic, limit.
SELECT run_id, position, step FROM stem_workflow_watchers WHERE topic = ? ORDER BY seq LIMIT ?
