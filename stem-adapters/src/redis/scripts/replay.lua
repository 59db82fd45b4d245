-- Puts one dead letter back on its queue. Its next delivery gets a new
-- fencing token from the queue's `seq`, larger than every earlier one.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] task id, ARGV[2] the replay envelope (JSON), ARGV[3] band,
-- ARGV[4] not_before ms or '', ARGV[5] the group.
-- Returns 1 if replayed, 0 if the dead letter was gone.
local P, id, group = KEYS[1], ARGV[1], ARGV[5]
local dead = P .. 'dead:' .. id
if redis.call('EXISTS', dead) == 0 then return 0 end
redis.call('DEL', dead)
redis.call('ZREM', P .. 'dead', id)
-- A copy published again under the same id meanwhile is replaced.
local old = redis.call('HGET', P .. 'ids', id)
if old then forget(P, group, id, old) end
redis.call('HSET', P .. 'ids', id, place(P, id, ARGV[2], ARGV[3], tonumber(ARGV[4]), now_ms()))
return 1
