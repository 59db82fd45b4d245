-- Takes the next slot of a rate limit's schedule (the generic cell rate
-- algorithm, as `stem::rate::next_slot` computes it), on the database's clock.
-- $1 key, $2 the interval and $3 the interval times the burst, both in
-- microseconds. Returns the wait before the slot starts, in microseconds (0: now).
-- The clock is read as the statement runs (`clock_timestamp`), not at its
-- start (`now`): a caller that waited for a racing caller's row lock would
-- otherwise measure its wait from before the racer's slot was taken, and
-- wait longer than the schedule says.
INSERT INTO {schema}.rate_limits AS r (key, tat)
VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $2)
ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat + $2, EXCLUDED.tat)
RETURNING greatest(0, r.tat - (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - $3)
