-- Renews a lock held by its owner.
-- KEYS[1] the lock; ARGV[1] the owner, ARGV[2] the new TTL in milliseconds.
-- Returns 1 if renewed, 0 if the lock is gone or held by another owner.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
