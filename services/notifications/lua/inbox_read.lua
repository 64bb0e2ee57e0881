-- Marks one inbox message read. KEYS: 1 inbox items hash. ARGV: 1 notification id, 2 read-at.
local item = redis.call('HGET', KEYS[1], ARGV[1])
if not item then return false end
local j = cjson.decode(item)
if j.read_at == nil or j.read_at == cjson.null then
  j.read_at = ARGV[2]
  item = cjson.encode(j)
  redis.call('HSET', KEYS[1], ARGV[1], item)
end
return item
