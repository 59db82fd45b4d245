-- Stem's SQLite schema, version 10: dead letters found by task id, so that a
-- replay or purge of chosen ids (`replay_ids.sql`, `dead_purge_ids.sql`) and
-- `dead_get.sql` look them up rather than read the queue's dead letters.
CREATE INDEX stem_dead_letters_id ON stem_dead_letters (queue, id);
