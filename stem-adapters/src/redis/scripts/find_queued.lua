-- Finds the message of a task that has no record: a producer on the same
-- store writes none, its message stands for the queued record until a worker
-- writes one. Returns the envelope (JSON), or false when no queue holds it.
-- KEYS[1] the namespace's key prefix; its `located` hash names the queue of
-- each task published and not yet recorded. ARGV[1] the task id. With
-- ARGV[2] = '1', KEYS[1] is instead that queue's key prefix, and only it is
-- searched (on a Redis Cluster a script touches one queue's slot: the caller
-- reads `located` first).

-- The envelope of task `id` if the queue under prefix P holds its message.
local function find(P, id)
  local loc = redis.call('HGET', P .. 'ids', id)
  if not loc then return false end
  local band, entry = parse(loc)
  if band then
    local found = redis.call('XRANGE', P .. 's' .. band, entry, entry)
    if found[1] then return field(found[1][2], 'env') end
    return false
  end
  local later = redis.call('HGET', P .. 'later', id)
  if later then return string.sub(later, 2) end
  return false
end

local id = ARGV[1]
if ARGV[2] == '1' then
  return find(KEYS[1], id)
end
local located = KEYS[1] .. 'located'
local queue = redis.call('HGET', located, id)
if not queue then return false end
local env = find(KEYS[1] .. '{' .. queue .. '}:', id)
-- A message purged or dead-lettered before any status was written: its
-- entry goes when it is looked up.
if not env then redis.call('HDEL', located, id) end
return env
