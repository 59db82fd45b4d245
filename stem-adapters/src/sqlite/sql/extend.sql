-- Moves a current lease's end. Parameters: new end, seq, token, now.
-- One row changed: extended.
UPDATE stem_messages SET ready_at = ? WHERE seq = ? AND token = ? AND state = 1 AND ready_at > ?
