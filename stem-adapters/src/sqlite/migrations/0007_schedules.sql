-- Stem's SQLite schema, version 7: the schedule store. Per schedule, its
-- entry as JSON and its state in columns of their own, which override the
-- JSON's when it is read. Fires are microseconds since the epoch; `enabled`
-- is 1 or 0. The index serves `due` (sql/schedule_due.sql).
CREATE TABLE stem_schedules (
    id            TEXT    PRIMARY KEY,
    entry         TEXT    NOT NULL,
    enabled       INTEGER NOT NULL,
    next_fire     INTEGER,
    last_fire     INTEGER,
    runs          INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    last_drift_ms INTEGER,
    last_error    TEXT
) WITHOUT ROWID;
CREATE INDEX stem_schedules_due ON stem_schedules (next_fire, id) WHERE enabled = 1;
