-- Deletes a live lock held by its owner. ?1 key, ?2 owner, ?4 now. ?3 (an
-- expiry, bound like the other lock statements') is not needed: `?3 IS NOT
-- NULL`, always true, only names it so that it binds. One row changed: released.
DELETE FROM stem_locks WHERE key = ?1 AND owner = ?2 AND expires_at > ?4 AND ?3 IS NOT NULL
