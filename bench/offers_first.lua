-- Every member's first offers answer on each channel, once each: the MEMBERS x web/app/store
-- requests bench/offers.lua makes. bench/run.sh runs it before the listing's warm-up, so that
-- the measured listing finds every answer the listing cache can hold already made, however fast
-- the machine was during the warm-up, and so that a first answer (ranked afresh) is measured on
-- its own. When the last of them is answered it creates the file UNTIL_FILE names, and
-- bench/run.sh stops wrk; requests sent meanwhile repeat the first members.
local members = tonumber(os.getenv("MEMBERS") or "10000")
local until_file = os.getenv("UNTIL_FILE")
local channels = {"web", "app", "store"}
local total = members * #channels
local sent, answered = 0, 0
dofile("bench/format.lua")
wrk.headers["Authorization"] = "Bearer dev-storefront"
request = function()
  local i = sent % total
  sent = sent + 1
  local member = math.floor(i / #channels)
  return fast_format("GET", "/v1/members/m-" .. member .. "/offers?channel=" .. channels[(i % #channels) + 1])
end
response = function()
  answered = answered + 1
  if answered == total and until_file then assert(io.open(until_file, "w")):close() end
end
dofile("bench/report.lua")
