-- Adds the members just counted to a group's count. Parameters: how many,
-- group id.
UPDATE stem_groups SET done = done + ? WHERE id = ?
