-- Puts dead letters back on their queue, in one statement: removes each and
-- stores its replay envelope, keeping the higher delivery count of the two
-- copies, so fencing tokens only grow. Parallel arrays: $1 dead letter seqs,
-- $2 ids (each once), $3 queues, $4 priorities, $5 not_before (null: now),
-- $6 envelopes (JSON). Returns the seq of each dead letter replayed.
WITH input AS (
    SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::smallint[], $5::timestamptz[], $6::text[])
        AS i (seq, id, queue, priority, not_before, envelope)
), gone AS (
    DELETE FROM {schema}.dead_letters d USING input i WHERE d.seq = i.seq RETURNING d.seq, d.deliveries
), stored AS (
    INSERT INTO {schema}.messages AS m (id, queue, priority, state, ready_at, deliveries, envelope)
    SELECT i.id, i.queue, i.priority,
           CASE WHEN i.not_before > now() THEN 3 ELSE 0 END,
           greatest(coalesce(i.not_before, now()), now()),
           g.deliveries, i.envelope
    FROM input i JOIN gone g USING (seq)
    ON CONFLICT (id) DO UPDATE
    SET queue = EXCLUDED.queue, priority = EXCLUDED.priority, state = EXCLUDED.state, ready_at = EXCLUDED.ready_at,
        deliveries = greatest(m.deliveries, EXCLUDED.deliveries), envelope = EXCLUDED.envelope
)
SELECT seq FROM gone
