-- Dead letters of queue $1 with a task id of $4, dead at or after $2, oldest
-- first, at most $3.
SELECT seq, reason, dead_at, deliveries, envelope FROM {schema}.dead_letters
WHERE queue = $1 AND id = ANY($4::uuid[]) AND dead_at >= coalesce($2, '-infinity'::timestamptz)
ORDER BY seq LIMIT $3
