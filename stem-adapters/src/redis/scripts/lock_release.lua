-- Releases a lock held by its owner (compare and delete).
-- KEYS[1] the lock; ARGV[1] the owner.
-- Returns 1 if released, 0 if the lock is gone or held by another owner.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
