-- Extends $2's lease on a running run to $3. $1 run id. One row changed: extended.
UPDATE {schema}.workflow_runs
SET lease_until = $3
WHERE id = $1 AND status = 'running' AND owner = $2
