-- Writes a checkpoint unless its position is taken. Parameters: run id,
-- position, name, value (JSON), at. One row changed: written.
INSERT INTO stem_workflow_checkpoints (run_id, position, name, value, at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_id, position) DO NOTHING
