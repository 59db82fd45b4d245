-- Stem's SQLite schema, version 1. Times are milliseconds since the Unix epoch.

-- Broker: one row per message. `state` 0: waiting, ready to take; 1: leased
-- until `ready_at`; 3: delayed until `ready_at` (2 is not used).
-- Each take first moves due delayed messages and expired leases back to 0, so
-- that taking reads only the ready rows of one partial index. `token` counts
-- deliveries and fences stale receipts.
CREATE TABLE stem_messages (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT    NOT NULL,
    queue    TEXT    NOT NULL,
    priority INTEGER NOT NULL,
    state    INTEGER NOT NULL,
    ready_at INTEGER NOT NULL,
    token    INTEGER NOT NULL DEFAULT 0,
    consumer TEXT,
    envelope TEXT    NOT NULL
);
CREATE INDEX stem_messages_take ON stem_messages (queue, priority DESC, seq) WHERE state = 0;
CREATE INDEX stem_messages_due ON stem_messages (state, ready_at);
CREATE INDEX stem_messages_next ON stem_messages (queue, ready_at) WHERE state IN (1, 3);

CREATE TABLE stem_dead_letters (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT    NOT NULL,
    queue    TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    dead_at  INTEGER NOT NULL,
    token    INTEGER NOT NULL,
    envelope TEXT    NOT NULL
);
CREATE INDEX stem_dead_letters_queue ON stem_dead_letters (queue, seq);

-- Broadcast: control messages, fanned out to every subscriber of a channel
-- (each reads the rows after the newest it has seen); kept for a minute.
CREATE TABLE stem_broadcasts (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT    NOT NULL,
    payload BLOB    NOT NULL,
    sent_at INTEGER NOT NULL
);
CREATE INDEX stem_broadcasts_channel ON stem_broadcasts (channel, seq);
CREATE INDEX stem_broadcasts_age ON stem_broadcasts (sent_at);

-- Result backend.
CREATE TABLE stem_task_status (
    id         TEXT    PRIMARY KEY,
    fence      INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX stem_task_status_expiry ON stem_task_status (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE stem_groups (
    id             TEXT    PRIMARY KEY,
    expected       INTEGER NOT NULL,
    chord_callback TEXT,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stem_groups_expiry ON stem_groups (expires_at);

CREATE TABLE stem_group_members (
    group_id  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    status    TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;

CREATE TABLE stem_heartbeats (
    worker_id  TEXT    PRIMARY KEY,
    heartbeat  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stem_heartbeats_expiry ON stem_heartbeats (expires_at);

-- Lock store.
CREATE TABLE stem_locks (
    key        TEXT    PRIMARY KEY,
    owner      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stem_locks_expiry ON stem_locks (expires_at);
