-- The offers listing request bench/offers.lua measures and bench/offers_first.lua makes once per
-- member and channel beforehand: the two must ask for the same answers, or the first pass fills
-- the listing cache with answers the measured run never asks for.
offers_members = tonumber(os.getenv("MEMBERS") or "10000")
offers_channels = {"web", "app", "store"}
dofile("bench/format.lua")
wrk.headers["Authorization"] = "Bearer dev-storefront"
function offers_request(member, channel)
  return fast_format("GET", "/v1/members/m-" .. member .. "/offers?channel=" .. channel)
end
