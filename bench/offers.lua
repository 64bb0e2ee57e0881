-- wrk script: GET /v1/members/{id}/offers for members drawn uniformly from MEMBERS, rotating
-- over the three channels, as a storefront.
local members = tonumber(os.getenv("MEMBERS") or "10000")
local channels = {"web", "app", "store"}
local n = 0
dofile("bench/format.lua")
wrk.headers["Authorization"] = "Bearer dev-storefront"
request = function()
  n = n + 1
  local member = math.random(0, members - 1)
  return fast_format("GET", "/v1/members/m-" .. member .. "/offers?channel=" .. channels[(n % 3) + 1])
end
dofile("bench/report.lua")
