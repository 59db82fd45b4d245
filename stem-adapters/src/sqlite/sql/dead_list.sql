-- A page of a queue's dead letters, newest first. Parameters: queue, limit, offset.
SELECT envelope, reason, dead_at, token FROM stem_dead_letters WHERE queue = ?
ORDER BY seq DESC LIMIT ? OFFSET ?
