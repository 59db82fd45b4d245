-- Stem's SQLite schema, version 3: the names of the queues messages were
-- published to, so that queue listings (`QueueStats::queues`) read a small
-- table and the indexes of each queue, never every message.
CREATE TABLE stem_queues (
    queue TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT OR IGNORE INTO stem_queues (queue) SELECT DISTINCT queue FROM stem_messages;
INSERT OR IGNORE INTO stem_queues (queue) SELECT DISTINCT queue FROM stem_dead_letters;
