-- A live group. $1 id.
SELECT expected, chord FROM {schema}.groups WHERE id = $1 AND expires_at > now()
