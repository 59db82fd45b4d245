-- Notes a queue messages are published to. Parameter: queue.
INSERT OR IGNORE INTO stem_queues (queue) VALUES (?)
