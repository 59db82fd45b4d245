-- Deletes dead letters of a queue dead at or after a time, oldest first.
-- Parameters: queue, since, limit (-1: no limit).
DELETE FROM stem_dead_letters WHERE seq IN (
    SELECT seq FROM stem_dead_letters WHERE queue = ? AND dead_at >= ? ORDER BY seq LIMIT ?
)
