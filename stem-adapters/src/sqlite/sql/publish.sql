-- Stores one message; an id already stored is replaced, ready or delayed
-- again (a receipt for the old copy settles nothing: it is no longer leased,
-- and its next delivery gets a higher token). Parameters: id, queue,
-- priority, state (0 ready, 3 delayed), ready_at, token (0 for a new message;
-- a replayed dead letter keeps its own), envelope (JSON).
INSERT INTO stem_messages (id, queue, priority, state, ready_at, token, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    queue = excluded.queue, priority = excluded.priority, state = excluded.state, ready_at = excluded.ready_at,
    token = max(token, excluded.token), consumer = NULL, envelope = excluded.envelope
