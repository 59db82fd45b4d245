-- Stem's SQLite schema, version 4: a group's members by their index in the
-- group, and a count of them on the group, so that adding a member reads and
-- writes that member and its group's row only, never the other members.
--
-- `done` counts the members added (an index added again is not counted
-- twice). The members stored before this version were keyed by task id and
-- have no index; no index can be given them, so they are dropped, and every
-- group counts from 0 again. (No released Stem added group members: canvas
-- was not yet shipped.)
ALTER TABLE stem_groups ADD COLUMN done INTEGER NOT NULL DEFAULT 0;

DROP TABLE stem_group_members;
CREATE TABLE stem_group_members (
    group_id     TEXT    NOT NULL,
    member_index INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    PRIMARY KEY (group_id, member_index)
) WITHOUT ROWID;
