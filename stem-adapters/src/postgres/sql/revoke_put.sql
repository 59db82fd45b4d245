-- Puts revokes, each replacing the one of its task id. $1 ids, $2 the
-- revokes (JSON), $3 when they expire (µs): one per revoke, no id twice.
-- The rows are written in id order, so that batches putting the same ids
-- lock them in one order and never deadlock.
INSERT INTO {schema}.revokes AS r (id, revoke, expires)
SELECT id, revoke::json, expires
FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS p (id, revoke, expires)
ORDER BY id
ON CONFLICT (id) DO UPDATE
SET revoke = EXCLUDED.revoke, expires = EXCLUDED.expires
