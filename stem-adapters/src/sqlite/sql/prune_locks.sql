-- Deletes the locks that have expired. Parameter: now.
DELETE FROM stem_locks WHERE expires_at <= ?
