-- Opens a run for an execution: reads it, takes its lease as wf_claim.lua
-- does (if it is running and its lease is free, the caller's, or ended), and,
-- if it did, reads its checkpoints.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] owner, ARGV[3] now (ms), ARGV[4] the lease's end (ms).
-- Returns nil if there is no such run, else {the run's fields as HGETALL
-- lists them (before the claim), 1 if claimed else 0, the checkpoints (JSON,
-- any order; empty unless claimed)}.
local P, id = KEYS[1], ARGV[1]
local run = P .. 'run:' .. id
local fields = redis.call('HGETALL', run)
if #fields == 0 then
  return false
end
local status, owner, lease = unpack(redis.call('HMGET', run, 'status', 'owner', 'lease_until'))
if status ~= 'running' or (owner and owner ~= ARGV[2] and lease and tonumber(lease) > tonumber(ARGV[3])) then
  return {fields, 0, {}}
end
redis.call('HSET', run, 'owner', ARGV[2], 'lease_until', ARGV[4])
return {fields, 1, redis.call('HVALS', P .. 'cp:' .. id)}
