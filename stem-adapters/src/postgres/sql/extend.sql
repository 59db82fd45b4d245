-- Moves a current lease's end to $3 milliseconds from now. $1 id, $2 token.
UPDATE {schema}.messages SET ready_at = now() + $3::float8 * interval '1 millisecond'
WHERE id = $1 AND deliveries = $2 AND state = 1 AND ready_at > now()
RETURNING ready_at
