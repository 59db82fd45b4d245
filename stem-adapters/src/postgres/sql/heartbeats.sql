-- The live heartbeats, by worker id.
SELECT beat FROM {schema}.heartbeats WHERE expires_at > now() ORDER BY worker_id
