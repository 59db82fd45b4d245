-- Removes a dead letter being replayed (stored again with publish.sql).
-- Parameter: seq.
DELETE FROM stem_dead_letters WHERE seq = ?
