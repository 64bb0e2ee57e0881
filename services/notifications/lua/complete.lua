-- Records the outcome of one delivery attempt, with its event, atomically. For the inbox the
-- message is stored in the same step, so an inbox delivery happens exactly once.
-- KEYS: 1 delivery hash, 2 due zset, 3 outbox stream, 4 inbox zset (scored by arrival order),
--       5 inbox items hash, 6 inbox arrival counter
-- ARGV: 1 id, 2 outcome (sent|retry|failed|unknown|dropped|deferred), 3 next due ms (retry,
--       deferred), 4 event JSON ('' = none), 5 inbox item JSON ('' = none), 6 inbox limit,
--       7 (unused), 8 reason, 9 member id
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'claimed' and st ~= 'sending' then return 'stale' end
local outcome = ARGV[2]
if outcome == 'retry' or outcome == 'deferred' then
  if outcome == 'retry' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
  redis.call('HSET', KEYS[1], 'state', outcome == 'retry' and 'pending' or 'deferred', 'reason', ARGV[8])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
else
  if outcome ~= 'sent' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
  redis.call('HSET', KEYS[1], 'state', outcome, 'reason', ARGV[8])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if outcome == 'sent' and ARGV[5] ~= '' then
  inbox_add(KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[5], tonumber(ARGV[6]))
end
if ARGV[4] ~= '' then tessera_outbox_append(KEYS[3], 'tessera.notifications.v1', ARGV[9], ARGV[4]) end
return 'ok'
