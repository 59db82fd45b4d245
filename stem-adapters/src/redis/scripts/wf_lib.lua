-- Shared by the workflow scripts that end a wait; prepended to each of them
-- (see scripts.rs). P is the workflow key prefix (stem:<ns>:wf:{<ns>}:).
--
-- A run's hash holds: id, workflow, queue, args (JSON), policy (JSON), status,
-- cursor, created_at, updated_at, and while set: result (JSON), error,
-- wait_topic, resume_at, suspended_at, owner, lease_until (times in
-- milliseconds), and its watcher: watcher (JSON, as listed), watch_position
-- and watch_name (the checkpoint's name as a JSON string).

-- Removes the run's watcher, if it has one.
local function drop_watcher(P, run, id)
  local topic = redis.call('HGET', run, 'wait_topic')
  if topic then
    redis.call('ZREM', P .. 'watch:' .. topic, id)
  end
  redis.call('HDEL', run, 'watcher', 'watch_position', 'watch_name')
end

-- Makes a suspended run (or, in a rewind, any run) running again at `now` (ms,
-- as given), out of the due index and in the running one; returns its queue.
local function wake(P, run, id, now)
  drop_watcher(P, run, id)
  redis.call('HSET', run, 'status', 'running', 'updated_at', now)
  redis.call('HDEL', run, 'wait_topic', 'resume_at', 'suspended_at')
  redis.call('ZREM', P .. 'due', id)
  redis.call('ZADD', P .. 'running', now, id)
  return redis.call('HGET', run, 'queue')
end


-- Records a checkpoint (JSON) at `position`, if the run is running, `owner`
-- holds its lease and the position is free; its time `at` (ms) becomes the
-- run's updated_at. Returns 1 if recorded, else 0.
local function save_checkpoint(P, id, owner, position, checkpoint, at)
  local run, cp = P .. 'run:' .. id, P .. 'cp:' .. id
  local status, holder = unpack(redis.call('HMGET', run, 'status', 'owner'))
  if status ~= 'running' or holder ~= owner then
    return 0
  end
  if redis.call('HSETNX', cp, position, checkpoint) == 0 then
    return 0
  end
  redis.call('HSET', run, 'cursor', redis.call('HLEN', cp), 'updated_at', at)
  redis.call('ZADD', P .. 'running', at, id)
  return 1
end

-- Ends a run: with an owner (`owned` '1'), if the run is running and the
-- owner holds its lease; without, if it is not final yet. Sets the final
-- `status` and `field` ('result' or 'error') to `value`, clears its
-- suspension, lease and watcher, and indexes it as ended at `now` (ms).
-- Finished runs stay (no expiry) until `prune_runs` deletes them.
-- Returns 1 if the run ended, else 0.
local function finish(P, id, owned, owner, status, field, value, now)
  local run = P .. 'run:' .. id
  local current, holder = unpack(redis.call('HMGET', run, 'status', 'owner'))
  if not current then
    return 0
  end
  if owned == '1' then
    if current ~= 'running' or holder ~= owner then
      return 0
    end
  elseif current == 'completed' or current == 'failed' or current == 'cancelled' then
    return 0
  end
  drop_watcher(P, run, id)
  redis.call('HSET', run, 'status', status, field, value, 'updated_at', now)
  redis.call('HDEL', run, 'wait_topic', 'resume_at', 'suspended_at', 'owner', 'lease_until')
  redis.call('ZREM', P .. 'due', id)
  redis.call('ZREM', P .. 'running', id)
  redis.call('ZADD', P .. 'ended', now, id)
  return 1
end
