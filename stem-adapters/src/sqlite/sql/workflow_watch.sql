-- Stores a watcher of a suspended run. Parameters: run id, topic, position,
-- step, deadline (null: none), created_at.
INSERT INTO stem_workflow_watchers (run_id, topic, position, step, deadline, created_at) VALUES (?, ?, ?, ?, ?, ?)
