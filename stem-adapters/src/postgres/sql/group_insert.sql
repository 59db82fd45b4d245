-- Creates a group. $1 id, $2 members expected, $3 retention in milliseconds.
INSERT INTO {schema}.groups (id, expected, expires_at) VALUES ($1, $2, now() + $3::float8 * interval '1 millisecond')
