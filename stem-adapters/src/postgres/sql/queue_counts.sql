-- Every queue with its ready, delayed, leased and dead-lettered counts: the
-- counters the triggers keep (see migrations/0005_counts.sql), and, from the
-- timed index, the leased and delayed messages that are due now (a lease that
-- ended, a delay that passed), which count as ready.
-- One grouped join, not a subquery per queue and state: with no statistics
-- yet on the counters, the planner guesses 200 queues, and four subqueries
-- each priced that way cross Postgres' JIT threshold (40 ms of compiling).
WITH counted AS (
    SELECT queue,
           coalesce(sum(n) FILTER (WHERE state = 0), 0) AS waiting,
           coalesce(sum(n) FILTER (WHERE state = 1), 0) AS leased,
           coalesce(sum(n) FILTER (WHERE state = 3), 0) AS delayed,
           coalesce(sum(n) FILTER (WHERE state = 9), 0) AS dead
    FROM {schema}.message_counts
    GROUP BY queue
), due AS (
    SELECT m.queue,
           count(*) FILTER (WHERE m.state = 1) AS leases_ended,
           count(*) FILTER (WHERE m.state = 3) AS delays_passed
    FROM counted c
    JOIN {schema}.messages m ON m.queue = c.queue AND m.state IN (1, 3) AND m.ready_at <= now()
    GROUP BY m.queue
)
SELECT c.queue,
       (c.waiting + coalesce(d.leases_ended, 0) + coalesce(d.delays_passed, 0))::bigint AS ready,
       (c.delayed - coalesce(d.delays_passed, 0))::bigint AS delayed,
       (c.leased - coalesce(d.leases_ended, 0))::bigint AS leased,
       c.dead::bigint AS dead
FROM counted c LEFT JOIN due d USING (queue)
ORDER BY c.queue
