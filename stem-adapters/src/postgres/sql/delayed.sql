-- The delayed messages of one queue that are not yet due, soonest first
-- (`state IN (1, 3)` repeated so that the index of timed messages serves
-- it). $1: queue, $2: limit.
SELECT envelope, ready_at FROM {schema}.messages
WHERE queue = $1 AND state IN (1, 3) AND state = 3 AND ready_at > now()
ORDER BY ready_at
LIMIT $2
