-- Removes a group's members (before the group is created again,
-- group_insert.sql). Parameter: group id.
DELETE FROM stem_group_members WHERE group_id = ?
