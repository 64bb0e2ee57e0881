-- wrk script: GET /v1/members/{id}/offers for members drawn uniformly from MEMBERS, rotating
-- over the three channels, as a storefront.
dofile("bench/offers_request.lua")
local n = 0
request = function()
  n = n + 1
  return offers_request(math.random(0, offers_members - 1), offers_channels[(n % #offers_channels) + 1])
end
dofile("bench/report.lua")
