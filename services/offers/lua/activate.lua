-- Clips an offer for a member (idempotent) and appends offer.activated to the member's outbox.
-- KEYS: 1 member offers hash, 2 outbox stream (member's bucket)
-- ARGV: 1 campaign id, 2 state JSON, 3 event JSON, 4 member id
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then return {'exists', cur} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
tessera_outbox_append(KEYS[2], 'tessera.offers.v1', ARGV[4], ARGV[3])
return {'ok', ARGV[2]}
