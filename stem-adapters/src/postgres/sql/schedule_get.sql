-- A schedule. $1 id.
SELECT entry::text AS entry, enabled, next_fire, last_fire, runs, skipped, last_drift_ms, last_error
FROM {schema}.schedules
WHERE id = $1
