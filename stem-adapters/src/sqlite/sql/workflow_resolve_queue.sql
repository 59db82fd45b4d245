-- The queue of a run, if it is suspended. Parameter: id.
SELECT queue FROM stem_workflow_runs WHERE id = ? AND status = 'suspended'
