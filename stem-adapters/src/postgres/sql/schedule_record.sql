-- Records how claimed fires went: the last drift, and the last error (NULL
-- clears it). $1 ids, $2 drifts in ms, $3 errors: one per fire, no id twice.
-- Unknown ids change nothing. The schedules are locked in id order first,
-- as claims lock them (sql/schedule_claim.sql), so that the two never deadlock.
WITH fired AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) AS f (id, drift_ms, error)
),
locked AS MATERIALIZED (
    SELECT id FROM {schema}.schedules
    WHERE id = ANY($1::text[])
    ORDER BY id
    FOR UPDATE
)
UPDATE {schema}.schedules AS s
SET last_drift_ms = f.drift_ms, last_error = f.error
FROM locked AS l JOIN fired AS f ON f.id = l.id
WHERE s.id = l.id
