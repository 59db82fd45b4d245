-- Every schedule, by id.
-- Returns one array of the schedule hash's fields and values per schedule.
local entries = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'all', 0, -1)) do
  local fields = redis.call('HGETALL', entry_key(id))
  if #fields > 0 then
    entries[#entries + 1] = fields
  end
end
return entries
