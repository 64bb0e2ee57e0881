-- Redeems an offer for a member: activation and the per-member limit are checked and the
-- redemption recorded with its offer.redeemed event and idempotency record, atomically.
-- (The campaign budget was reserved before, in the campaign's own slot.)
-- KEYS: 1 member offers hash, 2 member offer redemptions hash (campaign:order, or campaign|order, -> body),
--       3 outbox stream, 4 idempotency record
-- ARGV: 1 campaign id, 2 order id, 3 per-member limit ('' = none), 4 requires activation '1'|'0',
--       5 event JSON, 6 response body, 7 request hash, 8 member id, 9 now ms, 10 version,
--       11 '1' to write the idempotency record as a hash (tessera_lib.lua)
local done = tessera_idem_check(KEYS[4], ARGV[7])
if done then return {'replay', done[1], done[2]} end
-- The natural-key record is the field '<campaign>:<order>'. Identifiers may contain ':', so two
-- pairs can spell the same field ('a' + 'b:c' and 'a:b' + 'c'): a record found there is this
-- pair's only if its answer names this campaign and order. When the field is another pair's,
-- this pair's record is kept under '<campaign>|<order>', which no other pair can spell ('|' is in
-- no identifier); that field is looked up too whenever the first is not this pair's, since the
-- other pair's record may have gone since (forget.lua). The common field stays as earlier
-- releases wrote and read it, so they run side by side.
local order_key = ARGV[1] .. ':' .. ARGV[2]
local prev = redis.call('HGET', KEYS[2], order_key)
if prev then
  local p = cjson.decode(prev)
  if (p.campaign_id == nil or p.campaign_id == ARGV[1]) and (p.order_id == nil or p.order_id == ARGV[2]) then
    return {'duplicate', '201', prev}
  end
end
local own_key = ARGV[1] .. '|' .. ARGV[2]
local own = redis.call('HGET', KEYS[2], own_key)
if own then return {'duplicate', '201', own} end
if prev then order_key = own_key end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local st = raw and cjson.decode(raw) or nil
if ARGV[4] == '1' and not st then return {'not_activated', '', ''} end
local count = (st and st.redemptions) or 0
if ARGV[3] ~= '' and count >= tonumber(ARGV[3]) then return {'limit', tostring(count), ''} end
local new = {state = 'redeemed', redemptions = count + 1, version = tonumber(ARGV[10]),
             activated_at = st and st.activated_at or cjson.null, redeemed_at = tonumber(ARGV[9])}
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(new))
redis.call('HSET', KEYS[2], order_key, ARGV[6])
tessera_outbox_append(KEYS[3], 'tessera.offers.v1', ARGV[8], ARGV[5])
tessera_idem_store(KEYS[4], ARGV[7], '201', ARGV[6], '86400000', ARGV[11])
return {'ok', '201', ARGV[6]}
