-- The revoke store's table ({schema} is replaced, quoted): per task id, its
-- revoke as JSON and when it expires, in microseconds since the epoch, for
-- the queries (`live`, `prune`: the index).
CREATE TABLE IF NOT EXISTS {schema}.revokes (
    id uuid PRIMARY KEY,
    revoke json NOT NULL,
    expires bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS revokes_expires ON {schema}.revokes (expires);
