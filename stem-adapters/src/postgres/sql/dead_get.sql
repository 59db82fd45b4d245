-- The newest dead letter of queue $1 with task id $2.
SELECT reason, dead_at, deliveries, envelope FROM {schema}.dead_letters
WHERE queue = $1 AND id = $2 ORDER BY seq DESC LIMIT 1
