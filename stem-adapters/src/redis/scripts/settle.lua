-- Settles or extends one delivery, if its receipt is still current: the
-- message's delivery count equals the receipt's token and its lease has not ended.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] op: 'requeue', 'replace', 'dead' or 'extend' (acks go through ack.lua); ARGV[2] task
-- id; ARGV[3] token; ARGV[4] the group; then per op:
--   extend:  ARGV[5] the new lease in ms
--   replace: ARGV[5] envelope (JSON), ARGV[6] band, ARGV[7] not_before ms or ''
--   dead:    ARGV[5] reason, ARGV[6] dead_at (RFC 3339), ARGV[7] the envelope
--            to keep instead of the stored one ('' to keep the stored one)
-- Returns -1 if the receipt is stale, else 1 (the new lease end for 'extend').
local P, op, id, token, group = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local msg, leases = P .. 'msg:' .. id, P .. 'leases'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deliveries = tonumber(redis.call('HGET', msg, 'deliveries'))
local lease_end = tonumber(redis.call('ZSCORE', leases, id))
if deliveries ~= token or not lease_end or lease_end <= now then
  return -1
end
if op == 'extend' then
  local until_ms = now + tonumber(ARGV[5])
  redis.call('ZADD', leases, until_ms, id)
  return until_ms
end
local band, entry = unpack(redis.call('HMGET', msg, 'band', 'entry'))
local stream = P .. 's' .. band
redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
redis.call('ZREM', leases, id)
if op == 'requeue' then
  redis.call('HSET', msg, 'entry', redis.call('XADD', stream, '*', 'id', id))
elseif op == 'replace' then
  redis.call('HSET', msg, 'env', ARGV[5], 'band', ARGV[6])
  local not_before = tonumber(ARGV[7])
  if not_before and not_before > now then
    redis.call('HDEL', msg, 'entry')
    redis.call('ZADD', P .. 'delayed', not_before, id)
    redis.call('XADD', P .. 'wake', 'MAXLEN', '~', 16, '*', 'at', not_before)
  else
    local target = P .. 's' .. ARGV[6]
    if redis.call('EXISTS', target) == 0 then
      pcall(redis.call, 'XGROUP', 'CREATE', target, group, '0', 'MKSTREAM')
    end
    redis.call('HSET', msg, 'entry', redis.call('XADD', target, '*', 'id', id))
  end
elseif op == 'dead' then
  local env = ARGV[7]
  if env == nil or env == '' then env = redis.call('HGET', msg, 'env') end
  redis.call('DEL', msg)
  redis.call('HSET', P .. 'dead:' .. id, 'env', env, 'reason', ARGV[5], 'dead_at', ARGV[6], 'deliveries', deliveries)
  redis.call('ZADD', P .. 'dead', redis.call('INCR', P .. 'dead_seq'), id)
end
return 1
