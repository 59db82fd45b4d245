-- Puts a current delivery back, ready now, in its old place.
-- Parameters: now, seq, token, now.
UPDATE stem_messages SET state = 0, ready_at = ?, consumer = NULL
WHERE seq = ? AND token = ? AND state = 1 AND ready_at > ?
