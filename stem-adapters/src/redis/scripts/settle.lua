-- Settles or extends one delivery, if its receipt is still current: the
-- message is still stored under the receipt's token and its lease has not ended.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] op: 'requeue', 'replace', 'dead' or 'extend' (acks go through ack.lua); ARGV[2] task
-- id; ARGV[3] token; ARGV[4] the group; then per op:
--   extend:  ARGV[5] the new lease in ms
--   replace: ARGV[5] envelope (JSON), ARGV[6] band, ARGV[7] not_before ms or ''
--   dead:    ARGV[5] reason, ARGV[6] dead_at (RFC 3339), ARGV[7] the envelope
--            to keep instead of the stored one ('' to keep the stored one)
-- Returns -1 if the receipt is stale, else 1 (the new lease end for 'extend').
local P, op, id, token, group = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ids, leases = P .. 'ids', P .. 'leases'
local now = now_ms()
local loc = redis.call('HGET', ids, id)
local lease_end = tonumber(redis.call('ZSCORE', leases, id))
local band, entry, current
if loc then band, entry, current = parse(loc) end
if current ~= token or not lease_end or lease_end <= now then
  return -1
end
if op == 'extend' then
  local until_ms = now + tonumber(ARGV[5])
  redis.call('ZADD', leases, until_ms, id)
  return until_ms
end
local stream = P .. 's' .. band
local stored = redis.call('XRANGE', stream, entry, entry)
local env = stored[1] and field(stored[1][2], 'env')
forget(P, group, id, loc)
if op == 'requeue' then
  redis.call('HSET', ids, id, place(P, id, env, band, nil, now))
elseif op == 'replace' then
  redis.call('HSET', ids, id, place(P, id, ARGV[5], ARGV[6], tonumber(ARGV[7]), now))
elseif op == 'dead' then
  if ARGV[7] ~= nil and ARGV[7] ~= '' then env = ARGV[7] end
  redis.call('HDEL', ids, id)
  redis.call('HSET', P .. 'dead:' .. id, 'env', env, 'reason', ARGV[5], 'dead_at', ARGV[6], 'token', token)
  redis.call('ZADD', P .. 'dead', redis.call('INCR', P .. 'dead_seq'), id)
end
return 1
