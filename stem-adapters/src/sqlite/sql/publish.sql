-- Stores one message. Parameters: id, queue, priority, state (0 ready, 3
-- delayed), ready_at, token (0 for a new message; a replayed dead letter keeps
-- its own, so fencing tokens only grow), envelope (JSON).
INSERT INTO stem_messages (id, queue, priority, state, ready_at, token, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)
