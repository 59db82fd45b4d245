-- Stores a worker's heartbeat. Parameters: worker id, heartbeat (JSON), expiry.
INSERT OR REPLACE INTO stem_heartbeats (worker_id, heartbeat, expires_at) VALUES (?, ?, ?)
