-- Puts a current delivery back, ready now, in its old place. $1 id, $2 token.
UPDATE {schema}.messages SET state = 0, ready_at = now()
WHERE id = $1 AND deliveries = $2 AND state = 1 AND ready_at > now()
