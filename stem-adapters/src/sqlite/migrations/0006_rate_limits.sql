-- Stem's SQLite schema, version 6: the rate limiter's schedules. Per key, its
-- theoretical arrival time (tat), in microseconds since the epoch (see
-- sql/rate_reserve.sql). A row whose tat is past counts as no row; the
-- limiter deletes those past by more than an hour now and then
-- (sql/rate_prune.sql).
CREATE TABLE stem_rate_limits (
    key TEXT    PRIMARY KEY,
    tat INTEGER NOT NULL
) WITHOUT ROWID;
