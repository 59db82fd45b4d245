-- Puts a revoke, replacing the one of its task id. ?1 id, ?2 the revoke
-- (JSON), ?3 when it expires (µs).
INSERT INTO stem_revokes (id, revoke, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (id) DO UPDATE SET revoke = excluded.revoke, expires = excluded.expires
