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

