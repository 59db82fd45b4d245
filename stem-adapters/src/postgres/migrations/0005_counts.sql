-- Per-queue counts kept by triggers, so that queue listings
-- (`QueueStats::queues`) read a few rows however many messages are stored
-- (counting a million rows takes Postgres a few hundred milliseconds here).
-- Each statement that adds, moves or removes messages (or dead letters) adds
-- its per-queue, per-state difference to one of 16 shard rows, picked at
-- random, so that concurrent workers seldom wait on one row. `state` is a
-- message's state (0 waiting, 1 leased, 3 delayed), or 9 for dead letters.
-- A queue is listed as long as it has a row here (emptied, its counts are 0).
CREATE TABLE IF NOT EXISTS {schema}.message_counts (
    queue text NOT NULL,
    state smallint NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (queue, state, shard)
);

INSERT INTO {schema}.message_counts (queue, state, shard, n)
SELECT queue, state, 0, count(*) FROM {schema}.messages GROUP BY queue, state;
INSERT INTO {schema}.message_counts (queue, state, shard, n)
SELECT queue, 9, 0, count(*) FROM {schema}.dead_letters GROUP BY queue;

CREATE OR REPLACE FUNCTION {schema}.count_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {schema}.message_counts AS c (queue, state, shard, n)
    SELECT queue, state, floor(random() * 16)::smallint, count(*) FROM added GROUP BY queue, state
    ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.count_removed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {schema}.message_counts AS c (queue, state, shard, n)
    SELECT queue, state, floor(random() * 16)::smallint, -count(*) FROM removed GROUP BY queue, state
    ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.count_moved() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {schema}.message_counts AS c (queue, state, shard, n)
    SELECT queue, state, floor(random() * 16)::smallint, sum(d)
    FROM (SELECT queue, state, 1 AS d FROM added UNION ALL SELECT queue, state, -1 FROM removed) AS moves
    GROUP BY queue, state
    HAVING sum(d) <> 0
    ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER messages_added AFTER INSERT ON {schema}.messages
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_added();
CREATE TRIGGER messages_removed AFTER DELETE ON {schema}.messages
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_removed();
CREATE TRIGGER messages_moved AFTER UPDATE ON {schema}.messages
REFERENCING NEW TABLE AS added OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_moved();

-- Dead letters count as state 9 of their queue.
CREATE OR REPLACE FUNCTION {schema}.count_dead_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {schema}.message_counts AS c (queue, state, shard, n)
    SELECT queue, 9, floor(random() * 16)::smallint, count(*) FROM added GROUP BY queue
    ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION {schema}.count_dead_removed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {schema}.message_counts AS c (queue, state, shard, n)
    SELECT queue, 9, floor(random() * 16)::smallint, -count(*) FROM removed GROUP BY queue
    ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER dead_letters_added AFTER INSERT ON {schema}.dead_letters
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_dead_added();
CREATE TRIGGER dead_letters_removed AFTER DELETE ON {schema}.dead_letters
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_dead_removed();
