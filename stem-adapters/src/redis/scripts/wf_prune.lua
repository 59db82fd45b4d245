-- Deletes up to `limit` runs that ended (completed, failed or cancelled) at or
-- before `ended_before`, oldest first: each run's hash, its checkpoints, its
-- watcher and its entries in every index (all runs, running, due, ended).
-- KEYS[1] the workflow key prefix.
-- ARGV[1] ended_before (ms), ARGV[2] limit (at least 1).
-- Returns how many runs it deleted.
local P, ended_before, limit = KEYS[1], ARGV[1], tonumber(ARGV[2])
local ended = P .. 'ended'
local pruned, strays, offset = {}, {}, 0
while #pruned < limit do
  local ids = redis.call('ZRANGEBYSCORE', ended, '-inf', ended_before, 'LIMIT', offset, 200)
  if #ids == 0 then
    break
  end
  for _, id in ipairs(ids) do
    local status = redis.call('HGET', P .. 'run:' .. id, 'status')
    if status == 'completed' or status == 'failed' or status == 'cancelled' then
      pruned[#pruned + 1] = id
      if #pruned == limit then
        break
      end
    else
      -- Not (or no longer) a final run: an entry the index should not hold.
      strays[#strays + 1] = id
    end
  end
  offset = offset + #ids
end
for _, id in ipairs(strays) do
  redis.call('ZREM', ended, id)
end
for _, id in ipairs(pruned) do
  local run = P .. 'run:' .. id
  drop_watcher(P, run, id)
  redis.call('DEL', run, P .. 'cp:' .. id)
  redis.call('ZREM', P .. 'runs', id)
  redis.call('ZREM', P .. 'running', id)
  redis.call('ZREM', P .. 'due', id)
  redis.call('ZREM', ended, id)
end
return #pruned
