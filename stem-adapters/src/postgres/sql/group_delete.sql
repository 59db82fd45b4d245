-- Removes a group's members, once group_insert.sql reset (and locked) it.
-- $1 id.
DELETE FROM {schema}.group_members WHERE group_id = $1
