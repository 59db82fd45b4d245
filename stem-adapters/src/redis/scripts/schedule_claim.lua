-- Claims fires, each on its own and in order: a schedule that is enabled
-- and whose next fire is still the claimed one moves to the claim's next
-- fire, its last fire becomes the claim's last, its runs and skipped grow.
-- ARGV, six per claim: id, the fire claimed and the next fire (µs since the
-- epoch, compared as text; the next '' for none), enqueued, skipped, the
-- last fire the claim covers.
-- Returns 1 per claim that won, 0 per claim that lost, in order.
local won = {}
for i = 1, #ARGV, 6 do
  local id, fire = ARGV[i], ARGV[i + 1]
  local key = entry_key(id)
  local enabled, next = unpack(redis.call('HMGET', key, 'enabled', 'next'))
  if enabled == '1' and next == fire then
    redis.call('HSET', key, 'last', ARGV[i + 5])
    set_next(key, id, true, ARGV[i + 2])
    if ARGV[i + 3] ~= '0' then
      redis.call('HINCRBY', key, 'runs', ARGV[i + 3])
    end
    if ARGV[i + 4] ~= '0' then
      redis.call('HINCRBY', key, 'skipped', ARGV[i + 4])
    end
    won[#won + 1] = 1
  else
    won[#won + 1] = 0
  end
end
return won
