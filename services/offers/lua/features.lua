-- Applies one event to a member's features, idempotently.
-- KEYS: 1 features hash
-- ledger ARGV: 1 'ledger', 2 member_seq, 3 tier, 4 lifetime, 5 available, 6 enrolled ms,
--              7 purchase ms ('' = not a purchase), 8 spend minor, 9 persona, 10 locale, 11 now ms
-- purchase ARGV: 1 'purchase', 2 order id, 3 categories JSON array, 4 now ms
local day = 86400000
if ARGV[1] == 'ledger' then
  local seq = tonumber(ARGV[2])
  if seq <= tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') then return 0 end
  redis.call('HSET', KEYS[1], 'seq', seq)
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'tier', ARGV[3]) end
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'lifetime', ARGV[4], 'available', ARGV[5]) end
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'enrolled_ms', ARGV[6]) end
  if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'persona', ARGV[9]) end
  if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'locale', ARGV[10]) end
  if ARGV[7] ~= '' then
    local at = tonumber(ARGV[7])
    local list = cjson.decode(redis.call('HGET', KEYS[1], 'purchases') or '[]')
    local kept = {}
    for _, p in ipairs(list) do
      if tonumber(ARGV[11]) - p[1] <= 90 * day then kept[#kept + 1] = p end
    end
    kept[#kept + 1] = {at, tonumber(ARGV[8])}
    redis.call('HSET', KEYS[1], 'purchases', cjson.encode(kept))
    local last = tonumber(redis.call('HGET', KEYS[1], 'last_purchase_ms') or '0')
    if at > last then redis.call('HSET', KEYS[1], 'last_purchase_ms', at) end
  end
  return 1
end
local orders = cjson.decode(redis.call('HGET', KEYS[1], 'orders') or '[]')
for _, o in ipairs(orders) do
  if o == ARGV[2] then return 0 end
end
orders[#orders + 1] = ARGV[2]
while #orders > 200 do table.remove(orders, 1) end
redis.call('HSET', KEYS[1], 'orders', cjson.encode(orders))
local seen = {}
for _, c in ipairs(cjson.decode(ARGV[3])) do
  if not seen[c] then
    seen[c] = true
    redis.call('HINCRBY', KEYS[1], 'cat:' .. c, 1)
  end
end
redis.call('HINCRBY', KEYS[1], 'purchase_events', 1)
return 1
