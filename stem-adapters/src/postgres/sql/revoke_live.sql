-- The revokes that hold at now (those that expire after it), by task id.
-- $1 now (µs).
SELECT revoke::text AS revoke
FROM {schema}.revokes
WHERE expires > $1
ORDER BY id
