-- Takes a current delivery out of the queue, to store it as a dead letter
-- (dead_letter_insert.sql). Parameters: seq, token, now.
DELETE FROM stem_messages WHERE seq = ? AND token = ? AND state = 1 AND ready_at > ?
RETURNING id, queue, envelope
