-- Writes producers' queued records where a task has no record yet, so never
-- over a worker's.
-- KEYS: one task key per record; ARGV: one status per key (its `status`
-- field; a queued record has no `fence`: 0).
-- Returns, per key, 1 if written and 0 if a record was there.
local written = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HSET', KEYS[i], 'status', ARGV[i])
    written[i] = 1
  else
    written[i] = 0
  end
end
return written
