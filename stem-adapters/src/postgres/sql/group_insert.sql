-- Creates a group with no member counted, or resets one of the same id (its
-- members are then deleted, group_delete.sql). An update, not a delete and
-- an insert, so that an add waiting for the group's row adds to the reset
-- group rather than missing it. $1 id, $2 members expected, $3 retention in
-- milliseconds.
INSERT INTO {schema}.groups (id, expected, done, chord, expires_at)
VALUES ($1, $2, 0, NULL, now() + $3::float8 * interval '1 millisecond')
ON CONFLICT (id) DO UPDATE
SET expected = EXCLUDED.expected, done = 0, chord = NULL, expires_at = EXCLUDED.expires_at
