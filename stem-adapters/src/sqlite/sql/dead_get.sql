-- The newest dead letter of a queue with an id. Parameters: queue, id.
SELECT envelope, reason, dead_at, token FROM stem_dead_letters WHERE queue = ? AND id = ?
ORDER BY seq DESC LIMIT 1
