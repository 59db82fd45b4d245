-- The indexes and statuses (JSON) of a group's members, in member order.
-- $1 group.
SELECT member_index, status FROM {schema}.group_members WHERE group_id = $1 ORDER BY member_index
