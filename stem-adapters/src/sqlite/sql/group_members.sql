-- The statuses (JSON) of a group's members. Parameter: group id.
SELECT status FROM stem_group_members WHERE group_id = ?
