-- Takes a lock if it is free, or renews it if the owner already holds it.
-- KEYS[1] the lock; ARGV[1] the owner, ARGV[2] the TTL in milliseconds.
-- Returns 1 if the owner holds the lock now, 0 if someone else does.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
