-- The workflow store's tables ({schema} is replaced, quoted). Every time is
-- the caller's (the runtime passes its clock in), never the database's.
-- A run's checkpoint count (its cursor) is counted, not stored. Whoever
-- changes a run's checkpoints or watchers holds the lock on its row first.
CREATE TABLE IF NOT EXISTS {schema}.workflow_runs (
    id uuid PRIMARY KEY,
    workflow text NOT NULL,
    status text NOT NULL,                 -- RunStatus::as_str
    queue text NOT NULL,
    args jsonb NOT NULL,
    result jsonb,
    error text,
    wait_topic text,
    resume_at timestamptz,
    suspended_at timestamptz,
    owner text,
    lease_until timestamptz,
    max_run_time_ms bigint,               -- the cancellation policy
    max_suspended_time_ms bigint,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS workflow_runs_newest ON {schema}.workflow_runs (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS workflow_runs_due ON {schema}.workflow_runs (resume_at)
    WHERE status = 'suspended' AND resume_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS workflow_runs_idle ON {schema}.workflow_runs (updated_at) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS {schema}.workflow_checkpoints (
    run_id uuid NOT NULL REFERENCES {schema}.workflow_runs (id) ON DELETE CASCADE,
    position bigint NOT NULL,
    name text NOT NULL,
    value jsonb NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (run_id, position)
);

-- `seq` orders the watchers of a topic oldest first.
CREATE TABLE IF NOT EXISTS {schema}.workflow_watchers (
    seq bigserial PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES {schema}.workflow_runs (id) ON DELETE CASCADE,
    topic text NOT NULL,
    position bigint NOT NULL,
    step text NOT NULL,
    deadline timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS workflow_watchers_by_topic ON {schema}.workflow_watchers (topic, seq);
CREATE INDEX IF NOT EXISTS workflow_watchers_by_run ON {schema}.workflow_watchers (run_id);
