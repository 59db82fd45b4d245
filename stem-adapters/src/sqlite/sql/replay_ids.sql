-- The dead letters of a queue to replay by task id: those of the ids given
-- (a JSON array of strings), dead at or after a time, oldest first; looked up
-- through the (queue, id) index (`+seq`: not the queue's, in seq order).
-- Parameters: queue, ids, since, limit.
SELECT seq, envelope, reason, dead_at, token FROM stem_dead_letters
WHERE queue = ? AND id IN (SELECT value FROM json_each(?)) AND dead_at >= ?
ORDER BY +seq LIMIT ?
