-- The enabled schedules whose next fire is at or before now, earliest first
-- (then by id), on the index `stem_schedules_due`. ?1 now (µs), ?2 the limit.
SELECT entry, enabled, next_fire, last_fire, runs, skipped, last_drift_ms, last_error
FROM stem_schedules
WHERE enabled = 1 AND next_fire <= ?1
ORDER BY next_fire, id
LIMIT ?2
