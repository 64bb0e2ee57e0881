-- Writes a campaign with compare-and-set on its revision, snapshots the version for quotes,
-- indexes it, and appends its lifecycle event to the global outbox — one atomic step.
-- KEYS: 1 campaign hash {doc, version, rev}, 2 index zset, 3 outbox stream, 4 version snapshot
-- ARGV: 1 expected rev ('0' = create), 2 doc JSON, 3 version, 4 campaign id, 5 index score,
--       6 event JSON ('' = none), 7 event key
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if ARGV[1] == '0' and rev ~= 0 then return {'exists', rev} end
if rev ~= tonumber(ARGV[1]) then return {'conflict', rev} end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'version', ARGV[3], 'rev', rev + 1)
redis.call('SET', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
if ARGV[6] ~= '' then tessera_outbox_append(KEYS[3], 'tessera.offers.v1', ARGV[7], ARGV[6]) end
return {'ok', rev + 1}
