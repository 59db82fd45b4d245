-- A task's status unless expired. $1 id.
SELECT status FROM {schema}.tasks WHERE id = $1 AND (expires_at IS NULL OR expires_at > now())
