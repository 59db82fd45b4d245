-- Moves the expiry of a live lease held by its owner.
-- ?1 key, ?2 owner, ?3 expiry, ?4 now. One row changed: renewed.
UPDATE stem_locks SET expires_at = ?3 WHERE key = ?1 AND owner = ?2 AND expires_at > ?4
