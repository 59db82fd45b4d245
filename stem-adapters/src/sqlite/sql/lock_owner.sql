-- The owner of a live lock. Parameters: key, now.
SELECT owner FROM stem_locks WHERE key = ? AND expires_at > ?
