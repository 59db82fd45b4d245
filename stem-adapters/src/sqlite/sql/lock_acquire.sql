-- Takes a lock that is free or expired, or renews it for its owner.
-- ?1 key, ?2 owner, ?3 expiry, ?4 now. One row changed: held.
INSERT INTO stem_locks (key, owner, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE stem_locks.expires_at <= ?4 OR stem_locks.owner = excluded.owner
