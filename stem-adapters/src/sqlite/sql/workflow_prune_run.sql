-- Deletes a run (its checkpoints and watchers go first). Parameter: id.
DELETE FROM stem_workflow_runs WHERE id = ?
