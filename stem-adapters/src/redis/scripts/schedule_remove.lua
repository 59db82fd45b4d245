-- Removes a schedule. ARGV[1] id.
-- Returns 1, or 0 if there was none.
local id = ARGV[1]
local removed = redis.call('DEL', entry_key(id))
redis.call('ZREM', P .. 'due', id)
redis.call('ZREM', P .. 'all', id)
return removed
