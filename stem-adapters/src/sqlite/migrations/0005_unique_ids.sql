-- Stem's SQLite schema, version 5: one message per task id, as on Redis and
-- Postgres. A publish of an id that is stored replaces the stored message
-- (sql/publish.sql); two rows of one id used to be delivered side by side
-- with the same fencing tokens. Of any such pair the newest row stays.
DELETE FROM stem_messages WHERE seq NOT IN (SELECT max(seq) FROM stem_messages GROUP BY id);
CREATE UNIQUE INDEX stem_messages_id ON stem_messages (id);
