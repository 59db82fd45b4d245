-- When the next delayed message of one queue is due, or its next lease ends.
-- Parameter: queue.
SELECT ready_at FROM stem_messages WHERE queue = ? AND state IN (1, 3) ORDER BY ready_at LIMIT 1
