-- Moves a current delivery to the dead letter queue with a reason.
-- $1 id, $2 token, $3 reason, $4 envelope to keep instead of the stored one (null: the stored one).
WITH gone AS (
    DELETE FROM {schema}.messages
    WHERE id = $1 AND deliveries = $2 AND state = 1 AND ready_at > now()
    RETURNING id, queue, deliveries, envelope
)
INSERT INTO {schema}.dead_letters (id, queue, reason, dead_at, deliveries, envelope)
SELECT id, queue, $3, now(), deliveries, coalesce($4, envelope) FROM gone
RETURNING seq
