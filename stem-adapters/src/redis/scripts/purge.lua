-- Removes every ready and delayed message of one queue, and those whose lease
-- ended (they count as ready); messages under a live lease stay.
-- KEYS[1] the queue's key prefix; ARGV[1] the group.
-- Returns how many were removed.
local P, group = KEYS[1], ARGV[1]
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
      for _, e in ipairs(entries) do
        local entry, id = e[1], e[2][2]
        local msg = P .. 'msg:' .. id
        if redis.call('HGET', msg, 'entry') == entry then
          redis.call('DEL', msg)
          removed = removed + 1
        end
        redis.call('XACK', stream, group, entry)
        redis.call('XDEL', stream, entry)
      end
    end
    redis.call('XGROUP', 'DELCONSUMER', stream, group, 'stem-purge')
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local leases = P .. 'leases'
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  local msg = P .. 'msg:' .. id
  local band, entry = unpack(redis.call('HMGET', msg, 'band', 'entry'))
  if band and entry then
    redis.call('XACK', P .. 's' .. band, group, entry)
    redis.call('XDEL', P .. 's' .. band, entry)
  end
  redis.call('ZREM', leases, id)
  redis.call('DEL', msg)
  removed = removed + 1
end
local delayed = P .. 'delayed'
for _, id in ipairs(redis.call('ZRANGE', delayed, 0, -1)) do
  redis.call('DEL', P .. 'msg:' .. id)
  removed = removed + 1
end
redis.call('DEL', delayed)
return removed
