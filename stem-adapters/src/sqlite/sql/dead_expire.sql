-- Deletes the dead letters that died before the retention. Parameter:
-- the cutoff (ms).
DELETE FROM stem_dead_letters WHERE dead_at < ?
