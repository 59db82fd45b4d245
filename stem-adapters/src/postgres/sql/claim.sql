-- Leases up to $2 messages of the queues $1 for $3 milliseconds: ready ones,
-- and delayed ones now due and leased ones whose lease ended, highest priority
-- first, oldest first within a priority. SKIP LOCKED lets claimers run side by
-- side; the state is checked again on the locked row.
WITH candidates AS (
    (SELECT seq FROM {schema}.messages
     WHERE queue = ANY($1) AND state = 0 ORDER BY priority DESC, seq LIMIT $2)
    UNION ALL
    (SELECT seq FROM {schema}.messages
     WHERE queue = ANY($1) AND state IN (1, 3) AND ready_at <= now() ORDER BY ready_at LIMIT $2)
), picked AS (
    SELECT seq FROM {schema}.messages
    WHERE seq IN (SELECT seq FROM candidates)
      AND (state = 0 OR (state IN (1, 3) AND ready_at <= now()))
    ORDER BY priority DESC, seq
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.messages AS m
SET state = 1, deliveries = m.deliveries + 1, ready_at = now() + $3::float8 * interval '1 millisecond'
FROM picked
WHERE m.seq = picked.seq
RETURNING m.seq, m.id, m.queue, m.priority, m.deliveries, m.ready_at, m.envelope
