-- Removes a schedule. ?1 id. One row changed: there was one.
DELETE FROM stem_schedules WHERE id = ?1
