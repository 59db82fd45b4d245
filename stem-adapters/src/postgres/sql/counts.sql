-- Messages of queue $1 ready now (due delayed ones and ended leases included),
-- and those under a live lease.
SELECT count(*) FILTER (WHERE state = 0 OR (state IN (1, 3) AND ready_at <= now())) AS pending,
       count(*) FILTER (WHERE state = 1 AND ready_at > now()) AS inflight
FROM {schema}.messages WHERE queue = $1
