-- A group's members by their index in the group, and a count of them on the
-- group ({schema} is replaced, quoted), so that adding a member writes that
-- member and its group's row only, never reading the other members: a chord
-- of n members was O(n^2) to count.
--
-- `done` counts the members added (an index added again is not counted
-- twice). The members stored before this version were keyed by task id and
-- have no index; none can be given them, so they are dropped, and every group
-- counts from 0 again. (No released Stem added group members: canvas was not
-- yet shipped.)
--
-- No foreign key to the group: the adds lock the group row and join on it
-- already, and a key check per member row took as long as the insert.
-- prune.sql deletes the members of the groups it deletes.
ALTER TABLE {schema}.groups ADD COLUMN done bigint NOT NULL DEFAULT 0;

DROP TABLE {schema}.group_members;
CREATE TABLE {schema}.group_members (
    group_id uuid NOT NULL,
    member_index bigint NOT NULL,
    status text NOT NULL,          -- the member's final status, JSON
    PRIMARY KEY (group_id, member_index)
);
