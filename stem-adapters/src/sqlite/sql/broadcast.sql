-- Stores a broadcast. Parameters: channel, payload, sent_at.
INSERT INTO stem_broadcasts (channel, payload, sent_at) VALUES (?, ?, ?)
