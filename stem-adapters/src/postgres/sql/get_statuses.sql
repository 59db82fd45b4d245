-- The statuses of many tasks, unless expired. $1 ids.
SELECT id, status FROM {schema}.tasks WHERE id = ANY($1::uuid[]) AND (expires_at IS NULL OR expires_at > now())
