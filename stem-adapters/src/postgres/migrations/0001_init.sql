-- Stem's tables, in the namespace's schema ({schema} is replaced, quoted).
CREATE TABLE IF NOT EXISTS {schema}.tasks (
    id uuid PRIMARY KEY,
    task text NOT NULL,
    queue text NOT NULL,
    state text NOT NULL,
    fence bigint NOT NULL,
    status text NOT NULL,          -- the whole status, JSON
    expires_at timestamptz         -- set once final: the record goes after the retention
);
CREATE INDEX IF NOT EXISTS tasks_expiry ON {schema}.tasks (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS {schema}.groups (
    id uuid PRIMARY KEY,
    expected bigint NOT NULL,
    chord uuid,
    expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.group_members (
    group_id uuid NOT NULL REFERENCES {schema}.groups (id) ON DELETE CASCADE,
    member_id uuid NOT NULL,
    status text NOT NULL,
    PRIMARY KEY (group_id, member_id)
);

CREATE TABLE IF NOT EXISTS {schema}.heartbeats (
    worker_id text PRIMARY KEY,
    beat text NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.locks (
    key text PRIMARY KEY,
    owner text NOT NULL,
    expires_at timestamptz NOT NULL
);
