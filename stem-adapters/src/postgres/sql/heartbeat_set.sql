-- Stores a worker's heartbeat. $1 worker id, $2 heartbeat (JSON), $3 TTL in milliseconds.
INSERT INTO {schema}.heartbeats (worker_id, beat, expires_at)
VALUES ($1, $2, now() + $3::float8 * interval '1 millisecond')
ON CONFLICT (worker_id) DO UPDATE SET beat = EXCLUDED.beat, expires_at = EXCLUDED.expires_at
