-- Claims one fire: a schedule that is enabled and whose next fire is still
-- the claimed one moves to the next fire, its last fire becomes the claim's
-- last, its runs and skipped grow. ?1 id, ?2 the fire claimed, ?3 the next
-- fire (NULL: none), ?6 the last fire covered, all in µs, ?4 enqueued, ?5
-- skipped. One row changed: won.
UPDATE stem_schedules
SET next_fire = ?3, last_fire = ?6, runs = runs + ?4, skipped = skipped + ?5
WHERE id = ?1 AND enabled = 1 AND next_fire = ?2
