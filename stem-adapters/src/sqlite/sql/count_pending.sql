-- How many messages of a queue are ready now: ready ones, due delayed ones and
-- ended leases (`ready_at` is when a message is due or its lease ends).
-- Parameters: queue, now.
SELECT count(*) FROM stem_messages WHERE queue = ? AND ready_at <= ?
