-- Without the listing (`task_listing` off, the default), its indexes go: each
-- would cost every status write.
DROP INDEX IF EXISTS stem_task_status_recent;
DROP INDEX IF EXISTS stem_task_status_by_task;
DROP INDEX IF EXISTS stem_task_status_by_state;
DROP INDEX IF EXISTS stem_task_status_by_task_state;
