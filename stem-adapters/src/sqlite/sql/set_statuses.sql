-- Writes one task's status unless a newer delivery already wrote one
-- (fencing); a record past its expiry counts as absent. Runs once per status.
-- ?1 id, ?2 fence, ?3 status (JSON), ?4 expiry (null: not final, kept), ?5 now,
-- ?6 task name, ?7 state, ?8 update time (microseconds since the epoch), the
-- columns the listing indexes. One row changed: written.
INSERT INTO stem_task_status (id, fence, status, expires_at, task, state, updated_at)
VALUES (?1, ?2, ?3, ?4, ?6, ?7, ?8)
ON CONFLICT (id) DO UPDATE SET fence = excluded.fence, status = excluded.status, expires_at = excluded.expires_at,
    task = excluded.task, state = excluded.state, updated_at = excluded.updated_at
WHERE stem_task_status.fence <= excluded.fence OR stem_task_status.expires_at <= ?5
