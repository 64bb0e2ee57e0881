-- Cancels a member's pending and deferred messages about an offer (it was redeemed).
-- KEYS: 1 offer index set, 2 due zset
-- ARGV: 1 key prefix, 2 reason
local cancelled = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  local state = redis.call('HGET', key, 'state')
  if state == 'pending' or state == 'deferred' then
    redis.call('HSET', key, 'state', 'cancelled', 'reason', ARGV[2])
    redis.call('ZREM', KEYS[2], id)
    cancelled[#cancelled + 1] = id
  end
end
redis.call('DEL', KEYS[1])
return cancelled
