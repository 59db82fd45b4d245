-- publish.sql and the producer's queued records in one statement, so in one
-- commit: both are stored or neither. A record is written where none exists
-- or where the stored one is another queued record or has expired (as
-- set_statuses.sql does for fence 0), so it never replaces a worker's.
-- $1 ids, $2 queues, $3 priorities, $4 not_before (null: now), $5 envelopes
-- (JSON), $6 the channel that wakes idle receivers, $7 task names, $8 the
-- queued statuses (JSON). No id twice.
WITH stored AS (
INSERT INTO {schema}.messages AS m (id, queue, priority, state, ready_at, envelope)
SELECT id, queue, priority,
       CASE WHEN not_before > now() THEN 3 ELSE 0 END,
       greatest(coalesce(not_before, now()), now()),
       envelope
FROM UNNEST($1::uuid[], $2::text[], $3::smallint[], $4::timestamptz[], $5::text[])
     AS input (id, queue, priority, not_before, envelope)
ON CONFLICT (id) DO UPDATE
SET queue = EXCLUDED.queue, priority = EXCLUDED.priority, state = EXCLUDED.state,
    ready_at = EXCLUDED.ready_at, envelope = EXCLUDED.envelope
), recorded AS (
INSERT INTO {schema}.tasks AS t (id, task, queue, state, fence, status)
SELECT id, task, queue, 'queued', 0, status
FROM UNNEST($1::uuid[], $7::text[], $2::text[], $8::text[]) AS input (id, task, queue, status)
ON CONFLICT (id) DO UPDATE
SET task = EXCLUDED.task, queue = EXCLUDED.queue, state = EXCLUDED.state, fence = EXCLUDED.fence,
    status = EXCLUDED.status, expires_at = NULL
WHERE t.fence <= 0 OR t.expires_at <= now()
)
SELECT pg_notify($6, '')
