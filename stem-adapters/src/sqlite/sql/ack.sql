-- Removes a delivered message if its receipt is still current: the token
-- matches and the lease has not ended. Parameters: seq, token, now.
DELETE FROM stem_messages WHERE seq = ? AND token = ? AND state = 1 AND ready_at > ?
