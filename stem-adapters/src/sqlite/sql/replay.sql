-- The dead letters of a queue to replay: dead at or after a time, oldest
-- first. Parameters: queue, since, limit.
SELECT seq, envelope, reason, dead_at, token FROM stem_dead_letters WHERE queue = ? AND dead_at >= ?
ORDER BY seq LIMIT ?
