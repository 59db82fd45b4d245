-- Stores a dead letter. Parameters: id, queue, reason, dead_at, token,
-- envelope (JSON).
INSERT INTO stem_dead_letters (id, queue, reason, dead_at, token, envelope) VALUES (?, ?, ?, ?, ?, ?)
