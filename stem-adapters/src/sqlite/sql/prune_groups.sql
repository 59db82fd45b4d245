-- Deletes the groups that have expired. Parameter: now.
DELETE FROM stem_groups WHERE expires_at <= ?
