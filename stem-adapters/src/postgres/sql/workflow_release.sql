-- Gives up $2's lease on the run $1, if $2 holds it.
UPDATE {schema}.workflow_runs
SET owner = NULL, lease_until = NULL
WHERE id = $1 AND owner = $2
