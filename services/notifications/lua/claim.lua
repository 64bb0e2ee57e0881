-- Claims deliveries that are due: each becomes 'claimed' with a lease (it is due again when the
-- lease ends, so a crashed dispatcher's work is found again). Only the delivery actually handed
-- to a provider is marked 'sending' (mark_sending.lua): after a crash, a 'claimed' one is safe to
-- send, a 'sending' one has an unknown outcome. Returns {id, previous state, attempts, record}.
-- KEYS: 1 due zset
-- ARGV: 1 key prefix, 2 now ms, 3 limit, 4 lease ms, 5 specific ids as JSON array ('' = any due)
local ids
if ARGV[5] ~= '' then ids = cjson.decode(ARGV[5])
else ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3]) end
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local d = redis.call('HMGET', key, 'state', 'attempts', 'r')
  if not d[1] then
    redis.call('ZREM', KEYS[1], id)
  elseif d[1] == 'pending' or d[1] == 'deferred' or d[1] == 'claimed' or d[1] == 'sending' then
    local score = tonumber(redis.call('ZSCORE', KEYS[1], id) or '0')
    if score <= tonumber(ARGV[2]) then
      redis.call('HSET', key, 'state', 'claimed', 'prev', d[1])
      redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[4]), id)
      out[#out + 1] = {id, d[1], d[2], d[3]}
    end
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
