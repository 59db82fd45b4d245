-- Removes a group and its members (before it is created again). $1 id.
DELETE FROM {schema}.groups WHERE id = $1
