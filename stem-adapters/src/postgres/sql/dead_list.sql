-- Dead letters of queue $1, newest first: $2 of them from offset $3, with the total.
SELECT reason, dead_at, deliveries, envelope, count(*) OVER () AS total
FROM {schema}.dead_letters WHERE queue = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3
