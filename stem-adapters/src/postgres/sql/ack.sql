-- Removes delivered messages whose receipts are still current: the delivery
-- count equals the token and the lease has not ended. $1 ids, $2 tokens.
DELETE FROM {schema}.messages
WHERE (id, deliveries) IN (SELECT * FROM UNNEST($1::uuid[], $2::bigint[]))
  AND state = 1 AND ready_at > now()
RETURNING id
