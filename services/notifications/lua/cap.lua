-- Counts one marketing message (by source event) against the member's daily cap.
-- KEYS: 1 set of event ids sent that local day
-- ARGV: 1 event id, 2 cap, 3 ttl ms
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
