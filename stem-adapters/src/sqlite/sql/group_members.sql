-- A group's members: index and status (JSON), in member order.
-- Parameter: group id.
SELECT member_index, status FROM stem_group_members WHERE group_id = ? ORDER BY member_index
