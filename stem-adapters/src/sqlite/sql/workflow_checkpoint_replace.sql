-- Writes a checkpoint, over the one at its position if any. Parameters: run
-- id, position, name, value (JSON), at.
INSERT INTO stem_workflow_checkpoints (run_id, position, name, value, at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_id, position) DO UPDATE SET name = excluded.name, value = excluded.value, at = excluded.at
