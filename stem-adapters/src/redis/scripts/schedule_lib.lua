-- Shared by the schedule scripts. KEYS[1] is the schedule key prefix
-- (stem:<ns>:schedules:{<ns>:schedules}:); under it `entry:<id>` is a
-- schedule's hash, `due` the ids of enabled schedules with a next fire,
-- scored by it (microseconds since the epoch), and `all` every id (score 0,
-- so in id order).
local P = KEYS[1]

-- A schedule's hash.
local function entry_key(id)
  return P .. 'entry:' .. id
end

-- Sets the next fire (µs since the epoch as text, '' for none) of the
-- schedule `id` whose hash is `key`, and its place in `due`: there only when
-- it is enabled and has a next fire.
local function set_next(key, id, enabled, next)
  if next == '' then
    redis.call('HDEL', key, 'next')
  else
    redis.call('HSET', key, 'next', next)
  end
  if enabled and next ~= '' then
    redis.call('ZADD', P .. 'due', next, id)
  else
    redis.call('ZREM', P .. 'due', id)
  end
end
