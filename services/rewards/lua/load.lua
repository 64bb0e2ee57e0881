-- Loads a member (and optionally begins an idempotent request) in one round trip.
-- KEYS: 1 state hash, 2 idempotency record ('' field unused when ARGV[1] == '0'),
--       3 orders, 4 redemptions, 5 holds
-- ARGV: 1 begin ('1'|'0'), 2 request hash, 3 in-flight ttl ms, 4 order id, 5 redemption id, 6 hold id,
--       7 '1' to mark the request in flight in the hash format (tessera_lib.lua)
-- Returns {idem_tag, status, body, state|false, seq, order|false, redemption|false, hold|false,
--          write version}; seq and version as decimal strings
--          (the load's early returns give them as 0)
local tag, status, body = 'proceed', '', ''
if ARGV[1] == '1' then
  local h, st, b = tessera_idem_read(KEYS[2])
  if not h then
    tessera_idem_store(KEYS[2], ARGV[2], '0', '', ARGV[3], ARGV[7])
  elseif h ~= ARGV[2] then
    return {'mismatch', '', '', false, 0, false, false, false, 0}
  elseif st == '0' then
    return {'in_progress', '', '', false, 0, false, false, false, 0}
  else
    return {'replay', st, b, false, 0, false, false, false, 0}
  end
end
local st = redis.call('HMGET', KEYS[1], 's', 'q', 'v')
local function field(key, f)
  if f == '' then return false end
  return redis.call('HGET', key, f)
end
-- seq and version as the decimal strings they are stored as (no tonumber: tessera_lib.lua).
return {tag, status, body, st[1], st[2] or '0', field(KEYS[3], ARGV[4]), field(KEYS[4], ARGV[5]),
        field(KEYS[5], ARGV[6]), st[3] or '0'}
