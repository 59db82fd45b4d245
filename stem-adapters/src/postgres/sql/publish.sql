-- Stores messages, ready or delayed; an id already stored is replaced (its
-- delivery count, the fencing token, stays, so a worker holding the old copy
-- can no longer settle it).
-- $1 ids, $2 queues, $3 priorities, $4 not_before (null: now), $5 envelopes
-- (JSON), $6 the channel that wakes idle receivers (told in the same commit).
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
)
-- A data-modifying WITH runs exactly once, to completion, whether or not the
-- outer query reads it: no RETURNING rows are kept just to be counted.
SELECT pg_notify($6, '')
