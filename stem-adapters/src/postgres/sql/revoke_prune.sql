-- Forgets the revokes that expired at or before now, on the index
-- `revokes_expires`. $1 now (µs). The rows changed: how many.
DELETE FROM {schema}.revokes WHERE expires <= $1
