-- The listing's indexes (`task_listing=true`): one per filter, in listing
-- order (newest first: read backwards), so that a page is read from an index
-- in order, after the previous page's last row.
CREATE INDEX IF NOT EXISTS stem_task_status_recent ON stem_task_status (updated_at, id);
CREATE INDEX IF NOT EXISTS stem_task_status_by_task ON stem_task_status (task, updated_at, id);
CREATE INDEX IF NOT EXISTS stem_task_status_by_state ON stem_task_status (state, updated_at, id);
CREATE INDEX IF NOT EXISTS stem_task_status_by_task_state ON stem_task_status (task, state, updated_at, id);
