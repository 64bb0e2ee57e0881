-- Commits one change to a member atomically: compare-and-set on the state's write version
-- ('v', bumped by every write of the state; member_seq 'q' is what clients see), then the new
-- state, ledger entries, outbox events, order/redemption/hold records, the sweep's due index
-- and the idempotency record — all or nothing.
-- KEYS: 1 state hash, 2 ledger zset, 3 outbox stream (bucket), 4 idempotency record (or an
--       unused key), then, as far as this change needs them: 5 redemptions, 6 orders, 7 holds,
--       8 due zset (bucket), 9 ledger meta hash. The service leaves out the keys after the last
--       one it needs: a redemption that moves no due instant sends five. Each key costs Redis
--       about 1 600 instructions (bench/README.md, session 30); the script touches no key it
--       was not given.
-- ARGV (positional, so nothing needs decoding):
--   1 expected write version, 2 new member_seq, 3 state JSON ('' = unchanged), 4 due ms
--   ('' = unchanged, '-' = nothing due), 5 member id, 6 request hash ('' = no idempotency
--   record), 7 response status and 8 response body, for a record written as a hash; or 7 '' and
--   8 the whole record as the string to store (tessera_lib.lua's formats), 9 the online ledger
--   limit when the ledger may exceed it ('' when it cannot: the newest entry's member_seq is
--   within it; see the end),
--   10 '1' when this request did not mark its key in flight (the cached path: another request's
--   marker means 'in_progress'), 11 order id that must not be recorded yet ('' = none:
--   'conflict' if it is), 12 the new write version (expected + 1; stored when the state
--   changes), then five lists, each ended by an empty argument or by the end of ARGV (so
--   trailing empty lists are left out): ledger entries as (member_seq, json) pairs, events, and
--   (field, json) pairs for the redemptions, orders and holds hashes. None of these items is
--   ever empty (the service refuses to send one).
-- No number is parsed or formatted on the common path: the version is compared and stored as
-- text, the lists end with a marker instead of a count, and the service works out whether the
-- ledger needs counting. Under callgrind each tonumber() cost 2 000-3 000 instructions, in a
-- commit of about 165 000 (bench/README.md, session 28).
-- Returns {'committed', '', '', write version now stored} or {'replay', status, body, 0},
-- {'in_progress', '', '', 0}, {'conflict', '', '', 0}.
local idem = ARGV[6]
-- Most requests find no record: one GET tells (a hash record answers it with an error, which is
-- true too), and only a record found is read through the library's helpers.
if idem ~= '' and redis.pcall('GET', KEYS[4]) then
  local done, in_flight = tessera_idem_lookup(KEYS[4], idem)
  if done then return {'replay', done[1], done[2], 0} end
  if in_flight and ARGV[10] == '1' then return {'in_progress', '', '', 0} end
end
local cur = redis.call('HGET', KEYS[1], 'v') or '0'
if cur ~= ARGV[1] then return {'conflict', '', '', 0} end
if ARGV[11] ~= '' and redis.call('HEXISTS', KEYS[6], ARGV[11]) == 1 then return {'conflict', '', '', 0} end
if ARGV[3] ~= '' then
  cur = ARGV[12]
  redis.call('HSET', KEYS[1], 's', ARGV[3], 'q', ARGV[2], 'v', cur)
end
local i = 13
local a = ARGV[i]
while a and a ~= '' do
  redis.call('ZADD', KEYS[2], a, ARGV[i + 1])
  i = i + 2
  a = ARGV[i]
end
i = i + 1
a = ARGV[i]
while a and a ~= '' do
  tessera_outbox_append(KEYS[3], 'tessera.ledger.v1', ARGV[5], a)
  i = i + 1
  a = ARGV[i]
end
for k = 5, 7 do
  i = i + 1
  a = ARGV[i]
  while a and a ~= '' do
    redis.call('HSET', KEYS[k], a, ARGV[i + 1])
    i = i + 2
    a = ARGV[i]
  end
end
if ARGV[4] == '-' then
  redis.call('ZREM', KEYS[8], ARGV[5])
elseif ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[8], ARGV[4], ARGV[5])
end
-- Bound the online ledger; trimmed entries stay on tessera.ledger.v1, their sum is kept so the
-- audit still balances. Every entry is scored by a member_seq of its own (one per entry, rising),
-- so while the newest entry's seq is within the limit the ledger cannot exceed it and is not
-- counted; a lowered limit takes effect at the member's next entry.
if ARGV[9] ~= '' then
  local limit, n = tonumber(ARGV[9]), redis.call('ZCARD', KEYS[2])
  if n > limit then
    local old = redis.call('ZRANGE', KEYS[2], 0, n - limit - 1)
    local sum = 0
    for _, e in ipairs(old) do
      local d = cjson.decode(e)  -- compact entry: points is the 2nd field (ledger_entry.h)
      sum = sum + (d.points or d[2])
    end
    redis.call('HINCRBY', KEYS[9], 'trimmed_points', sum)
    redis.call('HINCRBY', KEYS[9], 'trimmed_entries', #old)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - limit - 1)
  end
end
if idem ~= '' then
  if ARGV[7] == '' then
    redis.call('SET', KEYS[4], ARGV[8], 'PX', '86400000')
  else
    tessera_idem_store(KEYS[4], idem, ARGV[7], ARGV[8], '86400000', '1')
  end
end
return {'committed', '', '', cur}
