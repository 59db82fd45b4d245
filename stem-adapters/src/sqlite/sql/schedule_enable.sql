-- Enables or disables a schedule with its next fire. ?1 id, ?2 enabled (1 or
-- 0), ?3 the next fire (µs, NULL: none). One row changed: there is one.
UPDATE stem_schedules SET enabled = ?2, next_fire = ?3 WHERE id = ?1
