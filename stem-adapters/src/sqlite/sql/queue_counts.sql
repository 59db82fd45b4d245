-- Every known queue with its ready, delayed, leased and dead-lettered counts,
-- each read from a partial index of the queue's rows (named for the ready
-- ones: the planner would rather walk the index by state and look up every
-- row's queue). Parameter ?1: now. Ready: waiting, due delayed, and ended
-- leases.
SELECT q.queue,
       (SELECT count(*) FROM stem_messages m INDEXED BY stem_messages_take WHERE m.queue = q.queue AND m.state = 0)
     + (SELECT count(*) FROM stem_messages m WHERE m.queue = q.queue AND m.state IN (1, 3) AND m.ready_at <= ?1),
       (SELECT count(*) FROM stem_messages m
        WHERE m.queue = q.queue AND m.state IN (1, 3) AND m.ready_at > ?1 AND m.state = 3),
       (SELECT count(*) FROM stem_messages m
        WHERE m.queue = q.queue AND m.state IN (1, 3) AND m.ready_at > ?1 AND m.state = 1),
       (SELECT count(*) FROM stem_dead_letters d WHERE d.queue = q.queue)
FROM stem_queues q
ORDER BY q.queue
