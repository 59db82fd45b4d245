-- Forgets the revokes that expired at or before now, on the index
-- `stem_revokes_expires`. ?1 now (µs). The rows changed: how many.
DELETE FROM stem_revokes WHERE expires <= ?1
