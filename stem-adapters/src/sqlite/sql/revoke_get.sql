-- The revoke of a task if it holds at now (it expires after it). ?1 id, ?2 now (µs).
SELECT revoke
FROM stem_revokes
WHERE id = ?1 AND expires > ?2
