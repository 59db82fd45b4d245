-- A schedule. ?1 id.
SELECT entry, enabled, next_fire, last_fire, runs, skipped, last_drift_ms, last_error
FROM stem_schedules
WHERE id = ?1
