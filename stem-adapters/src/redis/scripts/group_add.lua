-- Adds members' final statuses to a group, if the group exists, and counts
-- those whose index is new to it: a member added again (a redelivered one
-- that ran twice) replaces its status and is not counted again. Reads no
-- other member. A group is a hash: `expected`, `done` (the members counted),
-- `chord`, and `m:<index>` per member (its status, JSON).
-- KEYS[1] the group's hash; ARGV: two per member, its index and its status.
-- Returns the group's size then, per member, the count right after it was
-- added; an empty list if there is no group (unknown or expired).
local key = KEYS[1]
local expected = redis.call('HGET', key, 'expected')
if not expected then
  return {}
end
local done = tonumber(redis.call('HGET', key, 'done') or '0')
local counts, added = {tonumber(expected)}, 0
for i = 1, #ARGV, 2 do
  -- HSET answers 1 for a new field, 0 for one it replaced.
  if redis.call('HSET', key, 'm:' .. ARGV[i], ARGV[i + 1]) == 1 then
    added = added + 1
  end
  counts[#counts + 1] = done + added
end
if added > 0 then
  redis.call('HINCRBY', key, 'done', added)
end
return counts
