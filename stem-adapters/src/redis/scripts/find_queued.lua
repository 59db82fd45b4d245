-- Finds the message of a task that has no record: a producer on the same
-- store writes none, its message stands for the queued record until a worker
-- writes one. Returns the envelope (JSON), or false when no queue holds it.
-- KEYS[1] the namespace's key prefix; its `queues` set names every queue a
-- message was published to. ARGV[1] the task id. With ARGV[2] = '1', KEYS[1]
-- is instead one queue's key prefix, and only that queue is searched (on a
-- Redis Cluster a script touches one queue's slot: one call per queue).

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
for _, queue in ipairs(redis.call('SMEMBERS', KEYS[1] .. 'queues')) do
  local env = find(KEYS[1] .. '{' .. queue .. '}:', id)
  if env then return env end
end
return false
