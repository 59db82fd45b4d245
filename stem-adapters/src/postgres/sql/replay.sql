-- Puts one dead letter back on its queue: removes it and stores the replay
-- envelope, keeping the higher delivery count of the two copies, so fencing
-- tokens only grow. $1 dead letter seq, $2 id, $3 queue, $4 priority,
-- $5 not_before (null: now), $6 envelope (JSON). Returns a row if replayed.
WITH gone AS (
    DELETE FROM {schema}.dead_letters WHERE seq = $1 RETURNING deliveries
)
INSERT INTO {schema}.messages AS m (id, queue, priority, state, ready_at, deliveries, envelope)
SELECT $2, $3, $4,
       CASE WHEN $5::timestamptz > now() THEN 3 ELSE 0 END,
       greatest(coalesce($5::timestamptz, now()), now()),
       deliveries, $6
FROM gone
ON CONFLICT (id) DO UPDATE
SET queue = EXCLUDED.queue, priority = EXCLUDED.priority, state = EXCLUDED.state, ready_at = EXCLUDED.ready_at,
    deliveries = greatest(m.deliveries, EXCLUDED.deliveries), envelope = EXCLUDED.envelope
RETURNING m.id
