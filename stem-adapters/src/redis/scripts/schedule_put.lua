-- Puts a schedule: new, or replacing the definition, `enabled` and next fire
-- of the one with its id (its runs, skipped, last fire, drift and error are kept).
-- ARGV[1] id, ARGV[2] the entry (JSON), ARGV[3] '1' if enabled, else '0',
-- ARGV[4] the next fire in µs since the epoch ('' for none).
local id, enabled = ARGV[1], ARGV[3]
local key = entry_key(id)
redis.call('HSET', key, 'entry', ARGV[2], 'enabled', enabled)
set_next(key, id, enabled == '1', ARGV[4])
redis.call('ZADD', P .. 'all', 0, id)
return 1
