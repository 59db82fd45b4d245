-- Listing task statuses by name and state (TaskListing): each row gets its
-- update time (microseconds since the epoch; filled from the JSON for the
-- rows already there), and one index per filter in listing order (newest
-- first: the indexes are read backwards), so that a page is read from an
-- index in order, after the previous page's last row.
ALTER TABLE {schema}.tasks ADD COLUMN IF NOT EXISTS updated_at bigint NOT NULL DEFAULT 0;
UPDATE {schema}.tasks
SET updated_at = coalesce((extract(epoch FROM (status::json ->> 'updated_at')::timestamptz) * 1000000)::bigint, 0);
CREATE INDEX IF NOT EXISTS tasks_recent ON {schema}.tasks (updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_task ON {schema}.tasks (task, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_state ON {schema}.tasks (state, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_task_state ON {schema}.tasks (task, state, updated_at, id);
