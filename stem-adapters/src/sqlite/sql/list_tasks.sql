-- A page of statuses, newest first, from the index of the filter ({filter}
-- is replaced by one of `1`, `task = ?5`, `state = ?6`, `task = ?5 AND
-- state = ?6`, each served by its own index), after the cursor's row;
-- expired rows are left out. ?1 cursor's update time (microseconds), ?2 its
-- id, ?3 how many rows (the page and one more), ?4 now.
SELECT updated_at, id, status FROM stem_task_status
WHERE {filter} AND (updated_at, id) < (?1, ?2) AND (expires_at IS NULL OR expires_at > ?4)
ORDER BY updated_at DESC, id DESC
LIMIT ?3
