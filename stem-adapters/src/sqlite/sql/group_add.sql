-- Adds (or replaces) a member's final status. Parameters: group id, member id,
-- status (JSON).
INSERT OR REPLACE INTO stem_group_members (group_id, member_id, status) VALUES (?, ?, ?)
