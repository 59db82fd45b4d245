-- The owner of a live lock. $1 key.
SELECT owner FROM {schema}.locks WHERE key = $1 AND expires_at > now()
