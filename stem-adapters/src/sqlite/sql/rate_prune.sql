-- Deletes the rate limit schedules whose tat is before ?1 (now less an hour,
-- in microseconds): a past tat counts as no row, so this only keeps the
-- table small.
DELETE FROM stem_rate_limits WHERE tat < ?1
