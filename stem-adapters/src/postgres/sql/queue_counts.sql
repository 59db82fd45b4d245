-- Every queue with its ready, delayed, leased and dead-lettered counts: the
-- counters the triggers keep (see migrations/0005_counts.sql), and, from the
-- timed index, the leased and delayed messages that are due now (a lease that
-- ended, a delay that passed), which count as ready.
WITH counted AS (
    SELECT queue,
           coalesce(sum(n) FILTER (WHERE state = 0), 0) AS waiting,
           coalesce(sum(n) FILTER (WHERE state = 1), 0) AS leased,
           coalesce(sum(n) FILTER (WHERE state = 3), 0) AS delayed,
           coalesce(sum(n) FILTER (WHERE state = 9), 0) AS dead
    FROM {schema}.message_counts
    GROUP BY queue
), due AS (
    SELECT c.queue,
           (SELECT count(*) FROM {schema}.messages m
            WHERE m.queue = c.queue AND m.state IN (1, 3) AND m.ready_at <= now() AND m.state = 1) AS leases_ended,
           (SELECT count(*) FROM {schema}.messages m
            WHERE m.queue = c.queue AND m.state IN (1, 3) AND m.ready_at <= now() AND m.state = 3) AS delays_passed
    FROM counted c
)
SELECT c.queue,
       (c.waiting + d.leases_ended + d.delays_passed)::bigint AS ready,
       (c.delayed - d.delays_passed)::bigint AS delayed,
       (c.leased - d.leases_ended)::bigint AS leased,
       c.dead::bigint AS dead
FROM counted c JOIN due d USING (queue)
ORDER BY c.queue
