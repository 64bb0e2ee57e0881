-- Commits one change to a member atomically: compare-and-set on member_seq, then the new
-- state, ledger entries, outbox events, order/redemption/hold records, the sweep's due index
-- and the idempotency record — all or nothing.
-- KEYS: 1 state hash, 2 ledger zset, 3 orders, 4 redemptions, 5 holds, 6 due zset (bucket),
--       7 outbox stream (bucket), 8 idempotency record (or an unused key), 9 ledger meta hash
-- ARGV: 1 JSON {exp, seq, state?, entries:[[seq,json]], events:[json], orders:[[f,json]],
--       redemptions, holds, due?, member, idem?, status, body, limit}
local c = cjson.decode(ARGV[1])
local has_idem = c.idem ~= nil and c.idem ~= cjson.null
if has_idem then
  local done = tessera_idem_check(KEYS[8], c.idem)
  if done then return {'replay', done[1], done[2]} end
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'q') or '0')
if cur ~= c.exp then return {'conflict', '', ''} end
if c.state ~= nil and c.state ~= cjson.null then
  redis.call('HSET', KEYS[1], 's', c.state, 'q', c.seq)
end
for _, e in ipairs(c.entries) do redis.call('ZADD', KEYS[2], e[1], e[2]) end
for _, v in ipairs(c.events) do tessera_outbox_append(KEYS[7], 'tessera.ledger.v1', c.member, v) end
for _, kv in ipairs(c.orders) do redis.call('HSET', KEYS[3], kv[1], kv[2]) end
for _, kv in ipairs(c.redemptions) do redis.call('HSET', KEYS[4], kv[1], kv[2]) end
for _, kv in ipairs(c.holds) do redis.call('HSET', KEYS[5], kv[1], kv[2]) end
if c.due ~= nil and c.due ~= cjson.null then
  redis.call('ZADD', KEYS[6], c.due, c.member)
elseif c.state ~= nil and c.state ~= cjson.null then
  redis.call('ZREM', KEYS[6], c.member)
end
-- Bound the online ledger; trimmed entries stay on tessera.ledger.v1, their sum is kept so the
-- audit still balances.
local n = redis.call('ZCARD', KEYS[2])
if n > c.limit then
  local old = redis.call('ZRANGE', KEYS[2], 0, n - c.limit - 1)
  local sum = 0
  for _, e in ipairs(old) do sum = sum + cjson.decode(e).points end
  redis.call('HINCRBY', KEYS[9], 'trimmed_points', sum)
  redis.call('HINCRBY', KEYS[9], 'trimmed_entries', #old)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - c.limit - 1)
end
if has_idem then tessera_idem_store(KEYS[8], c.idem, c.status, c.body, 86400000) end
return {'committed', '', ''}
