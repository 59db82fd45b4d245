-- When the next delayed message of the queues $1 is due, or the next lease ends.
SELECT min(ready_at) FROM {schema}.messages WHERE queue = ANY($1) AND state IN (1, 3)
