-- Stores messages of one queue and makes each ready (an entry on its band's
-- stream) or delayed (until `not_before`).
-- KEYS[1] the queue's key prefix.
-- ARGV[1] the group, then four per message: task id, envelope (JSON),
-- priority band (0-9), not_before in ms since the epoch ('' for none).
-- A message published under an id that is already stored replaces the stored
-- copy (its stream entry, lease or delayed slot go): a worker still holding
-- the old copy can no longer settle it. Returns how many were stored.
local P, group = KEYS[1], ARGV[1]
-- Read only for a delayed message: a call from a script costs about as much
-- as the command it runs.
local now
-- One ready message (a one-call enqueue): two calls instead of three. Its
-- entry goes in first; only if the id was stored already is the old copy
-- looked up and dropped.
if #ARGV == 5 and ARGV[5] == '' then
  local id = ARGV[2]
  local loc = place(P, id, ARGV[3], ARGV[4])
  if redis.call('HSETNX', P .. 'ids', id, loc) == 0 then
    forget(P, group, id, redis.call('HGET', P .. 'ids', id))
    redis.call('HSET', P .. 'ids', id, loc)
  end
  return 1
end
local asked = {}
for i = 2, #ARGV, 4 do
  asked[#asked + 1] = ARGV[i]
end
local olds = redis.call('HMGET', P .. 'ids', unpack(asked))
local placed, locs = {}, {}
-- Ready messages are added here rather than through place(), with each
-- band's stream name made once: the common case, kept lean.
local streams = {}
for k, id in ipairs(asked) do
  local i = 2 + (k - 1) * 4
  local old = placed[id] or olds[k]
  if old then forget(P, group, id, old) end
  local env, band, not_before = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local loc
  if not_before == '' then
    local stream = streams[band]
    if not stream then
      stream = P .. 's' .. band
      streams[band] = stream
    end
    loc = band .. ':' .. redis.call('XADD', stream, '*', 'id', id, 'env', env) .. ':0'
  else
    now = now or now_ms()
    loc = place(P, id, env, band, tonumber(not_before), now)
  end
  placed[id] = loc
  locs[#locs + 1] = id
  locs[#locs + 1] = loc
end
redis.call('HSET', P .. 'ids', unpack(locs))
return #asked
