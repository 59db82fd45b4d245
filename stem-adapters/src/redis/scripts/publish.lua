-- Stores a message and makes it ready (an entry on its band's stream) or
-- delayed (a member of the delayed set, until `not_before`).
-- KEYS[1] the queue's key prefix (every key below shares its hash tag).
-- ARGV[1] task id, ARGV[2] envelope (JSON), ARGV[3] priority band (0-9),
-- ARGV[4] not_before in ms since the epoch ('' for none), ARGV[5] the group,
-- ARGV[6] deliveries so far ('' to keep the stored count, 0 for a new message).
local P, id, band, group = KEYS[1], ARGV[1], ARGV[3], ARGV[5]
local msg = P .. 'msg:' .. id
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', msg, 'env', ARGV[2], 'band', band)
if ARGV[6] ~= '' then
  redis.call('HSET', msg, 'deliveries', ARGV[6])
else
  redis.call('HSETNX', msg, 'deliveries', 0)
end
local not_before = tonumber(ARGV[4])
if not_before and not_before > now then
  redis.call('HDEL', msg, 'entry')
  redis.call('ZADD', P .. 'delayed', not_before, id)
  return 0
end
local stream = P .. 's' .. band
if redis.call('EXISTS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
end
redis.call('HSET', msg, 'entry', redis.call('XADD', stream, '*', 'id', id))
return 1
