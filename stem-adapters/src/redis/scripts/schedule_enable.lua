-- Enables or disables a schedule with its next fire.
-- ARGV[1] id, ARGV[2] '1' to enable, '0' to disable, ARGV[3] the next fire in
-- µs since the epoch ('' for none).
-- Returns 1, or 0 if there is no such schedule (nothing is made).
local id, enabled = ARGV[1], ARGV[2]
local key = entry_key(id)
if redis.call('EXISTS', key) == 0 then
  return 0
end
redis.call('HSET', key, 'enabled', enabled)
set_next(key, id, enabled == '1', ARGV[3])
return 1
