-- Takes the next slot of a rate limit's schedule (the generic cell rate
-- algorithm, as `stem::rate::next_slot` computes it).
-- ?1 key, ?2 now, ?3 the interval, ?4 the interval times the burst, all in
-- microseconds. Returns the wait before the slot starts, in microseconds (0: now).
INSERT INTO stem_rate_limits (key, tat) VALUES (?1, ?2 + ?3)
ON CONFLICT (key) DO UPDATE SET tat = max(stem_rate_limits.tat + ?3, excluded.tat)
RETURNING max(0, tat - ?2 - ?4)
