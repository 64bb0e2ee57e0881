-- Creates the deliveries of one event, at most once each: a delivery id is derived from
-- (event_id, channel), so a redelivered event creates nothing.
-- A transactional inbox message is delivered in the same step (state 'sent', the inbox item
-- written, notification.sent appended): one round trip from event to inbox.
-- KEYS: 1 due zset (bucket), 2 outbox stream (bucket), 3 offer index set ('' slot key if none),
--       4 inbox zset, 5 inbox items hash, 6 inbox arrival counter
-- ARGV: 1 key prefix for deliveries, 2 offer id ('' = none), 3 count, 4 inbox limit, 5 member id
--       (the events' message key), then per delivery: id, due ms, state
--       (pending|deferred|sent), record JSON, event JSON ('' = none), inbox item JSON ('' = not
--       delivered now)
local created = 0
local i = 6
for _ = 1, tonumber(ARGV[3]) do
  local id, due, state, record, event, item = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  i = i + 6
  local key = ARGV[1] .. id
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'state', state, 'attempts', 0, 'r', record)
    redis.call('PEXPIRE', key, 30 * 86400000)
    if item ~= '' then
      inbox_add(KEYS[4], KEYS[5], KEYS[6], id, item, tonumber(ARGV[4]))
    else
      redis.call('ZADD', KEYS[1], due, id)
    end
    if ARGV[2] ~= '' then redis.call('SADD', KEYS[3], id) end
    if event ~= '' then tessera_outbox_append(KEYS[2], 'tessera.notifications.v1', ARGV[5], event) end
    created = created + 1
  end
end
return created
