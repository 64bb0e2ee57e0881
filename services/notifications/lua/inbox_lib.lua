-- Notifications' Lua helpers, prepended to the scripts that write the inbox.

-- Appends one message to a member's inbox in arrival order and keeps the newest `limit`.
local function inbox_add(zset, items, seq, id, item, limit)
  redis.call('ZADD', zset, redis.call('INCR', seq), id)
  redis.call('HSET', items, id, item)
  local n = redis.call('ZCARD', zset)
  if n > limit then
    local old = redis.call('ZRANGE', zset, 0, n - limit - 1)
    redis.call('ZREMRANGEBYRANK', zset, 0, n - limit - 1)
    for _, o in ipairs(old) do redis.call('HDEL', items, o) end
  end
end
