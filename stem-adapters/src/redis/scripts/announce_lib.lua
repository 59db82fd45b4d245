-- Shared by the status writes (set_status.lua, set_status_listed.lua);
-- prepended to each (see scripts.rs).

-- Publishes on `channel` the keys (KEYS[1..finals], the final statuses)
-- that were written (`written[i] == 1`; `all` when every one was), space
-- separated, for the waiters; nothing if none was.
local function announce(channel, finals, all, written)
  if finals == 0 then
    return
  end
  local done
  if all then
    done = table.concat(KEYS, ' ', 1, finals)
  else
    local keys, n = {}, 0
    for i = 1, finals do
      if written[i] == 1 then
        n = n + 1
        keys[n] = KEYS[i]
      end
    end
    done = table.concat(keys, ' ')
  end
  if done ~= '' then
    redis.call('PUBLISH', channel, done)
  end
end
