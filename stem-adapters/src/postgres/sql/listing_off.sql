-- Without the listing (`task_listing` off, the default), its indexes go: each
-- would cost every status write.
DROP INDEX IF EXISTS {schema}.tasks_recent;
DROP INDEX IF EXISTS {schema}.tasks_by_task;
DROP INDEX IF EXISTS {schema}.tasks_by_state;
DROP INDEX IF EXISTS {schema}.tasks_by_task_state;
