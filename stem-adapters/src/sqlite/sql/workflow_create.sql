-- Creates a running run unless its id exists. ?1 id, ?2 workflow, ?3 queue,
-- ?4 args (JSON), ?5 max run time and ?6 max suspended time (milliseconds, null:
-- none), ?7 now. One row changed: created.
INSERT INTO stem_workflow_runs (id, workflow, status, queue, args, max_run_ms, max_suspended_ms, created_at,
                                updated_at)
VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?7)
ON CONFLICT (id) DO NOTHING
