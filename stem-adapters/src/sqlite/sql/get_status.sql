-- A task's status (JSON), unless expired. Parameters: id, now.
SELECT status FROM stem_task_status WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)
