-- The seq of a channel's newest broadcast, 0 if none. Parameter: channel.
SELECT coalesce(max(seq), 0) FROM stem_broadcasts WHERE channel = ?
