-- A channel's broadcasts after a seq, in order. Parameters: channel, seq.
SELECT seq, payload FROM stem_broadcasts WHERE channel = ? AND seq > ? ORDER BY seq
