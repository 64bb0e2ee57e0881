-- Reserves (or gives back) one redemption and its points from a campaign's budget.
-- KEYS: 1 campaign stats hash
-- ARGV: 1 'reserve' | 'release', 2 points, 3 total_redemptions limit ('' = none),
--       4 total_points limit ('' = none)
local points = tonumber(ARGV[2])
if ARGV[1] == 'release' then
  redis.call('HINCRBY', KEYS[1], 'redeemed', -1)
  redis.call('HINCRBY', KEYS[1], 'points_used', -points)
  return 'released'
end
local redeemed = tonumber(redis.call('HGET', KEYS[1], 'redeemed') or '0')
local used = tonumber(redis.call('HGET', KEYS[1], 'points_used') or '0')
if ARGV[3] ~= '' and redeemed + 1 > tonumber(ARGV[3]) then return 'budget_exhausted' end
if ARGV[4] ~= '' and used + points > tonumber(ARGV[4]) then return 'budget_exhausted' end
redis.call('HINCRBY', KEYS[1], 'redeemed', 1)
redis.call('HINCRBY', KEYS[1], 'points_used', points)
return 'reserved'
