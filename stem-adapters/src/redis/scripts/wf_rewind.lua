-- Rewinds a run to a position, whatever its status: deletes its checkpoints at
-- that position and after and makes it runnable from there (status running;
-- result, error, suspension, watcher and lease cleared).
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] the position, ARGV[3] now (ms).
-- Returns 1 if rewound, 0 if the run is unknown.
local P, id, position, now = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local run, cp = P .. 'run:' .. id, P .. 'cp:' .. id
if not redis.call('HGET', run, 'status') then
  return 0
end
for _, field in ipairs(redis.call('HKEYS', cp)) do
  if tonumber(field) >= position then
    redis.call('HDEL', cp, field)
  end
end
-- Removes the watcher and the due entry, sets status running and updated_at,
-- clears the wait and puts the run in the running index scored by now; a final
-- run leaves the ended index.
wake(P, run, id, now)
redis.call('ZREM', P .. 'ended', id)
redis.call('HSET', run, 'cursor', redis.call('HLEN', cp))
redis.call('HDEL', run, 'result', 'error', 'owner', 'lease_until')
return 1
