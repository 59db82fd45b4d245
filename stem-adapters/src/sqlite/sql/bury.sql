-- Removes a message whose envelope does not decode (it goes to the dead
-- letter queue, dead_letter_insert.sql). Parameter: seq.
DELETE FROM stem_messages WHERE seq = ?
