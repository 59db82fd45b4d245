-- The enabled schedules whose next fire is at or before now, earliest first
-- (then by id), `limit` at most.
-- ARGV[1] now in µs since the epoch, ARGV[2] the limit (at least 1).
-- Returns one array of the schedule hash's fields and values per schedule.
local ids = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local entries = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HGETALL', entry_key(id))
  if #fields > 0 then
    entries[#entries + 1] = fields
  end
end
return entries
