-- Deletes the task statuses that have expired. Parameter: now.
DELETE FROM stem_task_status WHERE expires_at <= ?
