-- Adds a member's final status unless its index is already in the group
-- (group_replace.sql then replaces it). Parameters: group id, member index,
-- status (JSON). One row changed: a new member, to count.
INSERT OR IGNORE INTO stem_group_members (group_id, member_index, status) VALUES (?, ?, ?)
