-- Deletes a queue's ready and delayed messages, and leased ones whose lease
-- ended (for a leased message, `ready_at` is the lease's end).
-- Parameters: queue, now.
DELETE FROM stem_messages WHERE queue = ? AND (state IN (0, 3) OR (state = 1 AND ready_at <= ?))
