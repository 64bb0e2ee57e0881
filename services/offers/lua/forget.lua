-- Forgets what a member keeps of campaigns that have ended or been archived
-- (OffersApp::ForgetRetiredStates, at the member's listing): their offer states, and the
-- natural-key records of their redemptions (redeem.lua). Nothing reads those records again: a
-- redemption of an ended campaign answers 410 offer_ended before its record is looked up, and a
-- retry under the same Idempotency-Key is answered from the idempotency record. A record belongs
-- to the campaign its answer names (its field alone is ambiguous: identifiers may contain ':').
-- KEYS: 1 member offers hash (a cached member key), 2 member offer redemptions hash
-- ARGV: the campaign ids
-- Returns {states removed, records removed}.
local retired = {}
for _, id in ipairs(ARGV) do retired[id] = true end
local states = redis.call('HDEL', KEYS[1], unpack(ARGV))
local records = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ok, answer = pcall(cjson.decode, all[i + 1])
  if ok and type(answer) == 'table' and retired[answer.campaign_id] then
    records = records + redis.call('HDEL', KEYS[2], all[i])
  end
end
return {states, records}
