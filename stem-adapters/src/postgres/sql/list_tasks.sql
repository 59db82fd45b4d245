-- A page of statuses, newest first, from the index of the filter ({filter}
-- is replaced by one of `true`, `task = $4`, `state = $4`, `task = $4 AND
-- state = $5`, each served by its own index), after the cursor's row;
-- expired rows are left out. $1 cursor's update time (microseconds), $2 its
-- id, $3 how many rows (the page and one more).
SELECT updated_at, id, status FROM {schema}.tasks
WHERE {filter} AND (updated_at, id) < ($1, $2) AND (expires_at IS NULL OR expires_at > now())
ORDER BY updated_at DESC, id DESC
LIMIT $3
