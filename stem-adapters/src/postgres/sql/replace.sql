-- Replaces a current delivery by a new envelope (a retry), ready at its time.
-- $1 id, $2 token, $3 envelope (JSON), $4 priority, $5 not_before (null: now).
UPDATE {schema}.messages
SET envelope = $3, priority = $4,
    state = CASE WHEN $5::timestamptz > now() THEN 3 ELSE 0 END,
    ready_at = greatest(coalesce($5::timestamptz, now()), now())
WHERE id = $1 AND deliveries = $2 AND state = 1 AND ready_at > now()
