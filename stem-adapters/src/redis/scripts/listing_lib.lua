-- Shared by the scripts of the task listing (`task_listing=true`, see
-- `backend.rs`; joined in front of each one). Under the listing's prefix P
-- (the sets of one slot of task records, see `keys.rs`):
--   state:<state>             the listed tasks in one state
--   both:<state>:<task name>  the listed tasks of one name in one state
-- Sorted sets whose scores are all 0, so ordered by member. A member is the
-- status's update time (16 hex digits, see `backend.rs`), the task's id (36
-- characters), then `:<state>:<task name>`; the first 52 characters order it
-- (newest last) and no two tasks share them. A task record (a hash) keeps
-- its member in its `listed` field: a member is current while its record
-- holds it, and stale once the record expired or lists another one. A
-- listing of every state (or of a name in every state) merges the sets of
-- the seven states.

-- The id of the task member `m` stands for.
local function listed_id(m)
  return string.sub(m, 17, 52)
end

-- The two sets under P that hold member `m`.
local function listing_sets(P, m)
  local state, name = string.match(m, '^:(%a+):(.*)$', 53)
  return P .. 'state:' .. state, P .. 'both:' .. state .. ':' .. name
end

-- Adds member `m` to its sets under P.
local function list(P, m)
  local by_state, by_both = listing_sets(P, m)
  redis.call('ZADD', by_state, 0, m)
  redis.call('ZADD', by_both, 0, m)
end

-- Removes member `m` from its sets under P.
local function unlist(P, m)
  local by_state, by_both = listing_sets(P, m)
  redis.call('ZREM', by_state, m)
  redis.call('ZREM', by_both, m)
end
