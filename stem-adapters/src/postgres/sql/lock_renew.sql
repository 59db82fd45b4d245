-- Renews a live lock for its owner. $1 key, $2 owner, $3 TTL in milliseconds.
UPDATE {schema}.locks SET expires_at = now() + $3::float8 * interval '1 millisecond'
WHERE key = $1 AND owner = $2 AND expires_at > now()
