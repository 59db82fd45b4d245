-- The first ready messages of one queue, highest priority first, FIFO within
-- a priority. Parameters: queue, limit.
SELECT priority, seq FROM stem_messages WHERE queue = ? AND state = 0 ORDER BY priority DESC, seq LIMIT ?
