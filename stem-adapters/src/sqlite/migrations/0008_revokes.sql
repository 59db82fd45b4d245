-- Stem's SQLite schema, version 8: the revoke store. Per task id (its text,
-- which sorts as the id does), its revoke as JSON and when it expires, in
-- microseconds since the epoch, for the queries. The index serves `prune`
-- (sql/revoke_prune.sql).
CREATE TABLE stem_revokes (
    id      TEXT    PRIMARY KEY,
    revoke  TEXT    NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stem_revokes_expires ON stem_revokes (expires);
