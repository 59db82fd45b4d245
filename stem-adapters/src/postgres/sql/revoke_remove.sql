-- Removes the revoke of a task. $1 id. One row changed: there was one.
DELETE FROM {schema}.revokes WHERE id = $1
