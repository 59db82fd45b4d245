-- Writes statuses unless a newer delivery already wrote one (fencing); a
-- record past its expiry counts as absent. One row per status, no id twice.
-- $1 ids, $2 task names, $3 queues, $4 states, $5 fences, $6 statuses (JSON),
-- $7 final?, $8 retention in milliseconds, $9 the channel that hears of final
-- states (told in the same commit: the ids, 200 per notification), $10 update
-- times (microseconds since the epoch, for the listing). Returns the ids written.
WITH written AS (
INSERT INTO {schema}.tasks AS t (id, task, queue, state, fence, status, expires_at, updated_at)
SELECT id, task, queue, state, fence, status,
       CASE WHEN final THEN now() + $8::float8 * interval '1 millisecond' END, updated_at
FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bool[], $10::bigint[])
     AS input (id, task, queue, state, fence, status, final, updated_at)
ON CONFLICT (id) DO UPDATE
SET task = EXCLUDED.task, queue = EXCLUDED.queue, state = EXCLUDED.state, fence = EXCLUDED.fence,
    status = EXCLUDED.status, expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at
WHERE t.fence <= EXCLUDED.fence OR t.expires_at <= now()
RETURNING t.id, t.expires_at IS NOT NULL AS final
), told AS (
    -- A NOTIFY payload holds under 8,000 bytes: 200 ids per notification, so
    -- that each waiter wakes for its own task only.
    SELECT pg_notify($9, string_agg(id::text, ' '))
    FROM (SELECT id, (row_number() OVER () - 1) / 200 AS chunk FROM written WHERE final) AS ids
    GROUP BY chunk
)
SELECT id FROM written, (SELECT count(*) AS n FROM told) AS told_count  -- a cross join, so that `told` runs
