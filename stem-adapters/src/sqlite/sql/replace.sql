-- Replaces a current delivery by a new envelope (a retry), ready or delayed.
-- Parameters: state (0 ready, 3 delayed), ready_at, queue, priority, envelope
-- (JSON), seq, token, now.
UPDATE stem_messages SET state = ?, ready_at = ?, consumer = NULL, queue = ?, priority = ?, envelope = ?
WHERE seq = ? AND token = ? AND state = 1 AND ready_at > ?
