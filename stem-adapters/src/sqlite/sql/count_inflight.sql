-- How many messages of a queue are under a live lease. Parameters: queue, now.
SELECT count(*) FROM stem_messages WHERE queue = ? AND state = 1 AND ready_at > ?
