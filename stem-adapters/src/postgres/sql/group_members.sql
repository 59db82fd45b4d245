-- The statuses of a group's members. $1 group.
SELECT status FROM {schema}.group_members WHERE group_id = $1
