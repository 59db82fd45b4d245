-- Claims fires, each on its own: a schedule that is enabled and whose next
-- fire is still the claimed one moves to the claim's next fire, its last
-- fire becomes the claim's last, its runs and skipped grow. $1 ids, $2 the
-- fires claimed, $3 the next fires (NULL: none), $6 the last fires covered,
-- all in µs, $4 enqueued, $5 skipped: one per claim, no id twice. Returns the position (from 1) of each
-- claim that won.
--
-- The schedules are locked first, in id order, so that schedulers claiming
-- overlapping batches wait for each other rather than deadlock; a claim then
-- compares with the schedule's latest next fire, so of racing claims of one
-- fire exactly one wins.
WITH claims AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
        WITH ORDINALITY AS c (id, fire, next, enqueued, skipped, last, n)
),
locked AS MATERIALIZED (
    SELECT id FROM {schema}.schedules
    WHERE id = ANY($1::text[])
    ORDER BY id
    FOR UPDATE
)
UPDATE {schema}.schedules AS s
SET next_fire = c.next, last_fire = c.last, runs = s.runs + c.enqueued, skipped = s.skipped + c.skipped
FROM locked AS l JOIN claims AS c ON c.id = l.id
WHERE s.id = l.id AND s.enabled AND s.next_fire = c.fire
RETURNING c.n
