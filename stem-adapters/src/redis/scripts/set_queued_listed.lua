-- `set_queued.lua` with the task listing (`task_listing=true`): producers'
-- queued records, written where a task has no record yet, each listed
-- (`listing_lib.lua`).
-- KEYS: one task key per record, all of one slot on a Cluster.
-- ARGV[1] the listing's prefix of the keys' slot, then two per key: the
-- status (its `status` field; a queued record has no `fence`: 0) and its member.
-- Returns, per key, 1 if written and 0 if a record was there.
local P = ARGV[1]
local written = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local member = ARGV[2 * i + 1]
    redis.call('HSET', KEYS[i], 'status', ARGV[2 * i], 'listed', member)
    list(P, member)
    written[i] = 1
  else
    written[i] = 0
  end
end
return written
