-- A row if the group is live. Parameters: id, now.
SELECT 1 FROM stem_groups WHERE id = ? AND expires_at > ?
