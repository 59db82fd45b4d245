-- A live group's size and how many members were counted so far.
-- Parameters: id, now.
SELECT expected, done FROM stem_groups WHERE id = ? AND expires_at > ?
