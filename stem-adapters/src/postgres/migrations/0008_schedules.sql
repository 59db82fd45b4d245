-- The schedule store's table ({schema} is replaced, quoted): per schedule,
-- its entry as JSON and its state in columns of their own, which override
-- the JSON's when it is read. Fires are microseconds since the epoch; ids
-- sort bytewise (COLLATE "C"), as in every other store.
CREATE TABLE IF NOT EXISTS {schema}.schedules (
    id text COLLATE "C" PRIMARY KEY,
    entry json NOT NULL,
    enabled boolean NOT NULL,
    next_fire bigint,
    last_fire bigint,
    runs bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    last_drift_ms bigint,
    last_error text
);
CREATE INDEX IF NOT EXISTS schedules_due ON {schema}.schedules (next_fire, id) WHERE enabled;
