-- Makes a task's status expire at a time. Parameters: expiry, id.
UPDATE stem_task_status SET expires_at = ? WHERE id = ?
