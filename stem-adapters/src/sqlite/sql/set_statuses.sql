-- Writes one task's status unless a newer delivery already wrote one
-- (fencing); a record past its expiry counts as absent. Runs once per status.
-- ?1 id, ?2 fence, ?3 status (JSON), ?4 expiry (null: not final, kept), ?5 now.
-- One row changed: written.
INSERT INTO stem_task_status (id, fence, status, expires_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (id) DO UPDATE SET fence = excluded.fence, status = excluded.status, expires_at = excluded.expires_at
WHERE stem_task_status.fence <= excluded.fence OR stem_task_status.expires_at <= ?5
