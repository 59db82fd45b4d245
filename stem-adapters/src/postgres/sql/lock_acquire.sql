-- Takes a lock that is free or expired, or renews it for its owner.
-- $1 key, $2 owner, $3 TTL in milliseconds. One row changed: held.
INSERT INTO {schema}.locks (key, owner, expires_at)
VALUES ($1, $2, now() + $3::float8 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
WHERE locks.expires_at <= now() OR locks.owner = EXCLUDED.owner
