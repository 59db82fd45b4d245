-- Locks the run $1 for the rest of the transaction, so that the next
-- statement (with a snapshot taken after the lock) sees all its watchers.
SELECT id FROM {schema}.workflow_runs WHERE id = $1 FOR UPDATE
