-- Stem's SQLite schema, version 2: the workflow store. Times are milliseconds
-- since the Unix epoch, JSON values are TEXT.

-- One row per run. `status` is the status's lowercase name; `cursor` counts the
-- run's checkpoints. `owner` and `lease_until` are the lease, NULL when free.
-- The cancellation policy is two nullable durations in milliseconds.
CREATE TABLE stem_workflow_runs (
    id               TEXT    PRIMARY KEY,
    workflow         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    args             TEXT    NOT NULL,
    cursor           INTEGER NOT NULL DEFAULT 0,
    result           TEXT,
    error            TEXT,
    wait_topic       TEXT,
    resume_at        INTEGER,
    suspended_at     INTEGER,
    owner            TEXT,
    lease_until      INTEGER,
    max_run_ms       INTEGER,
    max_suspended_ms INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;
-- Suspended runs by wake time (due runs), running runs by last change (lost
-- runs), and every run newest first (listing, optionally per workflow).
CREATE INDEX stem_workflow_runs_due ON stem_workflow_runs (resume_at, id) WHERE status = 'suspended';
CREATE INDEX stem_workflow_runs_idle ON stem_workflow_runs (updated_at) WHERE status = 'running';
CREATE INDEX stem_workflow_runs_newest ON stem_workflow_runs (created_at DESC, id DESC);
CREATE INDEX stem_workflow_runs_workflow ON stem_workflow_runs (workflow, created_at DESC, id DESC);

-- What each durable operation of a run returned, by position.
CREATE TABLE stem_workflow_checkpoints (
    run_id   TEXT    NOT NULL,
    position INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
) WITHOUT ROWID;

-- Event waits of suspended runs; `seq` orders them oldest first.
CREATE TABLE stem_workflow_watchers (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    step       TEXT    NOT NULL,
    deadline   INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX stem_workflow_watchers_topic ON stem_workflow_watchers (topic, seq);
CREATE INDEX stem_workflow_watchers_run ON stem_workflow_watchers (run_id);
