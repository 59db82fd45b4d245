-- Deletes the heartbeats that have expired. Parameter: now.
DELETE FROM stem_heartbeats WHERE expires_at <= ?
