-- Deletes the dead letters that died before the retention. $1 the
-- retention in milliseconds.
DELETE FROM {schema}.dead_letters WHERE dead_at < now() - $1::float8 * interval '1 millisecond'
