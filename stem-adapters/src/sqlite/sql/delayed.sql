-- The delayed messages of one queue that are not yet due, soonest first
-- (`state IN (1, 3)` repeated so that the partial index of timed messages
-- serves it). Parameters: queue, now, limit.
SELECT envelope, ready_at FROM stem_messages
WHERE queue = ?1 AND state IN (1, 3) AND state = 3 AND ready_at > ?2
ORDER BY ready_at
LIMIT ?3
