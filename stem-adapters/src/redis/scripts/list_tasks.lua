-- One slot's share of a page of the task listing (`listing_lib.lua`): the
-- current members of the sorted sets KEYS (one, or the seven states' sets
-- merged) below a bound, newest first, with their records' statuses. Stale
-- members met on the way leave their sets (a record expired, or was
-- rewritten with another member).
-- KEYS: the sets, of one slot; ARGV[1] the listing's prefix of that slot,
-- ARGV[2] the prefix of its task records, ARGV[3] the bound: `+`, or `(`
-- and a member's first 52 characters (or a whole member), ARGV[4] how many
-- members to return at most, ARGV[5] how many to look at at most.
-- Returns the bound to go on from ('' when the sets hold no more), then a
-- member and its record's status per current member found.
local P, R, bound = ARGV[1], ARGV[2], ARGV[3]
local want, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
-- How many members a read of one set takes: a page's worth for one set; for
-- a merge, a few at a time (most states' sets hold few of the newest).
local chunk = want
if #KEYS > 1 then chunk = math.min(want, 32) end

-- Whether member a sorts after member b, byte by byte as Redis orders them
-- (Lua's `>` on strings follows the server's locale).
local function after(a, b)
  for i = 1, 52 do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return false
end

local sets = {}
for i = 1, #KEYS do
  sets[i] = { key = KEYS[i], bound = bound, read = {}, at = 1, ended = false }
end

-- The newest member of set `s` not yet taken, read ahead `chunk` at a time.
local function head(s)
  if s.at > #s.read then
    if s.ended then return nil end
    s.read = redis.call('ZREVRANGEBYLEX', s.key, s.bound, '-', 'LIMIT', 0, chunk)
    s.at = 1
    s.ended = #s.read < chunk
    if #s.read == 0 then return nil end
    s.bound = '(' .. s.read[#s.read]
  end
  return s.read[s.at]
end

local out, found, seen, last = { '' }, 0, 0, nil
while found < want and seen < budget do
  local newest, from = nil, nil
  for _, s in ipairs(sets) do
    local m = head(s)
    if m and (not newest or after(m, newest)) then
      newest, from = m, s
    end
  end
  if not newest then
    return out
  end
  from.at = from.at + 1
  seen = seen + 1
  last = newest
  local status, listed = unpack(redis.call('HMGET', R .. listed_id(newest), 'status', 'listed'))
  if listed == newest then
    found = found + 1
    out[2 * found] = newest
    out[2 * found + 1] = status
  else
    unlist(P, newest)
  end
end
out[1] = '(' .. last
return out
