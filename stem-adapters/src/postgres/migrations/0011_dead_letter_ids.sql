-- Dead letters found by task id, so that a replay or purge of chosen ids
-- (`sql/dead_oldest_ids.sql`, `sql/dead_purge_ids.sql`) and `sql/dead_get.sql`
-- look them up rather than read the queue's dead letters.
CREATE INDEX IF NOT EXISTS dead_letters_by_id ON {schema}.dead_letters (queue, id);
