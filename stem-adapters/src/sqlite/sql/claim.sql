-- Leases a message if it is still ready, counting one more delivery in its
-- token. Parameters: lease end, consumer, seq. Returns the message if leased.
UPDATE stem_messages SET state = 1, token = token + 1, ready_at = ?, consumer = ?
WHERE seq = ? AND state = 0
RETURNING id, queue, token, envelope
