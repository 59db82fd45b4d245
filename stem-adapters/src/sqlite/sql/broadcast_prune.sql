-- Deletes the broadcasts sent before a time. Parameter: that time.
DELETE FROM stem_broadcasts WHERE sent_at < ?
