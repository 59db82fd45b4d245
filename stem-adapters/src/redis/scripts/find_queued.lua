-- Finds the message of a task that has no record: a producer on the same
-- store writes none, its message stands for the queued record until a worker
-- writes one. Returns the envelope (JSON), or false when no queue holds it.
-- KEYS[1] the namespace's key prefix; its `queues` set names every queue a
-- message was published to. ARGV[1] the task id.
local prefix, id = KEYS[1], ARGV[1]
for _, queue in ipairs(redis.call('SMEMBERS', prefix .. 'queues')) do
  local P = prefix .. '{' .. queue .. '}:'
  local loc = redis.call('HGET', P .. 'ids', id)
  if loc then
    local band, entry = parse(loc)
    if band then
      local found = redis.call('XRANGE', P .. 's' .. band, entry, entry)
      if found[1] then return field(found[1][2], 'env') end
    else
      local later = redis.call('HGET', P .. 'later', id)
      if later then return string.sub(later, 2) end
    end
  end
end
return false
