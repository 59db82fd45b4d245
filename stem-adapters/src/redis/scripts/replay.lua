-- Puts one dead letter back on its queue with its delivery count kept, so
-- that fencing tokens keep growing.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] task id, ARGV[2] the replay envelope (JSON), ARGV[3] band,
-- ARGV[4] not_before ms or '', ARGV[5] the group.
-- Returns 1 if replayed, 0 if the dead letter was gone.
local P, id, group = KEYS[1], ARGV[1], ARGV[5]
local dead = P .. 'dead:' .. id
local deliveries = redis.call('HGET', dead, 'deliveries')
if not deliveries then return 0 end
redis.call('DEL', dead)
redis.call('ZREM', P .. 'dead', id)
local msg = P .. 'msg:' .. id
-- A copy published again under the same id meanwhile is replaced; the higher
-- delivery count of the two stays, so fencing tokens only grow.
local old_band, old_entry, old_deliveries = unpack(redis.call('HMGET', msg, 'band', 'entry', 'deliveries'))
if old_band and old_entry then
  redis.call('XACK', P .. 's' .. old_band, group, old_entry)
  redis.call('XDEL', P .. 's' .. old_band, old_entry)
end
redis.call('ZREM', P .. 'delayed', id)
redis.call('ZREM', P .. 'leases', id)
if old_deliveries and tonumber(old_deliveries) > tonumber(deliveries) then
  deliveries = old_deliveries
end
redis.call('HSET', msg, 'env', ARGV[2], 'band', ARGV[3], 'deliveries', deliveries)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local not_before = tonumber(ARGV[4])
if not_before and not_before > now then
  redis.call('HDEL', msg, 'entry')
  redis.call('ZADD', P .. 'delayed', not_before, id)
  redis.call('XADD', P .. 'wake', 'MAXLEN', '~', 16, '*', 'at', not_before)
  return 1
end
local stream = P .. 's' .. ARGV[3]
if redis.call('EXISTS', stream) == 0 then
  pcall(redis.call, 'XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
end
redis.call('HSET', msg, 'entry', redis.call('XADD', stream, '*', 'id', id))
return 1
