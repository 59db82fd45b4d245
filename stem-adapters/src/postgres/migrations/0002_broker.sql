-- The broker's tables ({schema} is replaced, quoted).
-- A message is ready (state 0, due at ready_at), leased (1, lease ends at
-- ready_at) or delayed (3, due at ready_at). `deliveries` is the fencing token.
CREATE TABLE IF NOT EXISTS {schema}.messages (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    queue text NOT NULL,
    priority smallint NOT NULL,
    state smallint NOT NULL,
    ready_at timestamptz NOT NULL,
    deliveries bigint NOT NULL DEFAULT 0,
    envelope text NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ready ON {schema}.messages (queue, priority DESC, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS messages_timed ON {schema}.messages (queue, ready_at) WHERE state IN (1, 3);

CREATE TABLE IF NOT EXISTS {schema}.dead_letters (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL,
    queue text NOT NULL,
    reason text NOT NULL,
    dead_at timestamptz NOT NULL,
    deliveries bigint NOT NULL,
    envelope text NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_queue ON {schema}.dead_letters (queue, seq);
