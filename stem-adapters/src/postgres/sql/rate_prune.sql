-- Deletes the rate limit schedules idle for more than an hour (a past tat
-- counts as no row, so this only keeps the table small).
DELETE FROM {schema}.rate_limits WHERE tat < (extract(epoch FROM now()) * 1000000)::bigint - 3600000000
