-- Releases a live lock held by its owner. $1 key, $2 owner.
DELETE FROM {schema}.locks WHERE key = $1 AND owner = $2 AND expires_at > now()
