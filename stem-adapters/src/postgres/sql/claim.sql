-- Leases up to $2 messages of the queues $1 for $3 milliseconds: ready ones,
-- and delayed ones now due and leased ones whose lease ended, highest priority
-- first, oldest first within a priority. SKIP LOCKED lets claimers run side by
-- side; the state is checked again on the locked row.
-- The candidates are taken per queue (LATERAL), so that each scan walks its
-- index in order and stops at $2 rows: `queue = ANY($1)` would read every
-- ready row of the queues and sort them.
WITH candidates AS (
    SELECT ready.id FROM unnest($1::text[]) AS q (name)
    CROSS JOIN LATERAL (
        SELECT id FROM {schema}.messages
        WHERE queue = q.name AND state = 0 ORDER BY priority DESC, seq LIMIT $2
    ) AS ready
    UNION ALL
    SELECT timed.id FROM unnest($1::text[]) AS q (name)
    CROSS JOIN LATERAL (
        SELECT id FROM {schema}.messages
        WHERE queue = q.name AND state IN (1, 3) AND ready_at <= now() ORDER BY ready_at LIMIT $2
    ) AS timed
), picked AS (
    SELECT id FROM {schema}.messages
    WHERE id IN (SELECT id FROM candidates)
      AND (state = 0 OR (state IN (1, 3) AND ready_at <= now()))
    ORDER BY priority DESC, seq
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.messages AS m
SET state = 1,
    -- The fencing token: the claim time in microseconds, or one more than the
    -- last if that is not below. Claims commit without waiting for the disk,
    -- so a database crash can undo the last ones; a count would then hand
    -- out a token again, the clock does not (nor to an id acked and
    -- published again).
    deliveries = greatest(m.deliveries + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint),
    ready_at = now() + $3::float8 * interval '1 millisecond'
FROM picked
WHERE m.id = picked.id
RETURNING m.seq, m.id, m.queue, m.priority, m.deliveries, m.ready_at, m.envelope
