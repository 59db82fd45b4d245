-- The live heartbeats (JSON), by worker id. Parameter: now.
SELECT heartbeat FROM stem_heartbeats WHERE expires_at > ? ORDER BY worker_id
