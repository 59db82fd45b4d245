-- Leases a message if it is still ready. Its fencing token becomes the claim
-- time in microseconds, or one more than its last if that is not below: a
-- token never repeats for an id, even after a crash undid the last claims
-- (synchronous=normal) or after the id's message was acked and published
-- again. Parameters: now (us), lease end, consumer, seq. Returns the message
-- if leased.
UPDATE stem_messages SET state = 1, token = max(token + 1, ?), ready_at = ?, consumer = ?
WHERE seq = ? AND state = 0
RETURNING id, queue, token, envelope
