-- The rate limiter's schedules ({schema} is replaced, quoted): per key, its
-- theoretical arrival time (tat), in microseconds since the epoch on the
-- database's clock (see sql/rate_reserve.sql). A row whose tat is past
-- counts as no row; the limiter deletes those past by more than an hour now
-- and then (sql/rate_prune.sql).
CREATE TABLE IF NOT EXISTS {schema}.rate_limits (
    key text PRIMARY KEY,
    tat bigint NOT NULL
);
