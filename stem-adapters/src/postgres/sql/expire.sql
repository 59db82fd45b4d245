-- Makes a task's record, or a group, expire some time from now.
-- $1 id, $2 milliseconds from now.
WITH task AS (
    UPDATE {schema}.tasks SET expires_at = now() + $2::float8 * interval '1 millisecond' WHERE id = $1
)
UPDATE {schema}.groups SET expires_at = now() + $2::float8 * interval '1 millisecond' WHERE id = $1
