-- Removes every ready and delayed message of one queue, and those whose lease
-- ended (they count as ready); messages under a live lease stay.
-- KEYS[1] the queue's key prefix; ARGV[1] the group.
-- Returns how many were removed.
local P, group = KEYS[1], ARGV[1]
local ids = P .. 'ids'
local removed = 0
for band = 0, 9 do
  local stream = P .. 's' .. band
  if redis.call('EXISTS', stream) == 1 then
    pcall(redis.call, 'XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
    while true do
      local got = redis.call('XREADGROUP', 'GROUP', group, 'stem-purge', 'COUNT', 1000, 'STREAMS', stream, '>')
      if not got then break end
      local entries = got[1][2]
      if #entries == 0 then break end
      local list, gone = {}, {}
      for _, e in ipairs(entries) do
        list[#list + 1] = e[1]
        gone[#gone + 1] = field(e[2], 'id')
      end
      redis.call('XACK', stream, group, unpack(list))
      redis.call('XDEL', stream, unpack(list))
      redis.call('HDEL', ids, unpack(gone))
      removed = removed + #list
    end
    redis.call('XGROUP', 'DELCONSUMER', stream, group, 'stem-purge')
  end
end
local leases = P .. 'leases'
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now_ms())) do
  local loc = redis.call('HGET', ids, id)
  if loc then
    forget(P, group, id, loc)
    redis.call('HDEL', ids, id)
  else
    redis.call('ZREM', leases, id)
  end
  removed = removed + 1
end
local delayed = P .. 'delayed'
for _, id in ipairs(redis.call('ZRANGE', delayed, 0, -1)) do
  redis.call('HDEL', ids, id)
  removed = removed + 1
end
redis.call('DEL', delayed, P .. 'later')
return removed
