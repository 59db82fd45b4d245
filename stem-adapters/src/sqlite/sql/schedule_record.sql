-- Records how a claimed fire went: the last drift, and the last error (NULL
-- clears it). ?1 id, ?2 the drift in ms, ?3 the error. An unknown id changes nothing.
UPDATE stem_schedules SET last_drift_ms = ?2, last_error = ?3 WHERE id = ?1
