-- The listing's indexes (`task_listing=true`): one per filter, in listing
-- order (newest first: read backwards), so that a page is read from an index
-- in order, after the previous page's last row.
CREATE INDEX IF NOT EXISTS tasks_recent ON {schema}.tasks (updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_task ON {schema}.tasks (task, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_state ON {schema}.tasks (state, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_task_state ON {schema}.tasks (task, state, updated_at, id);
