-- Every member's first offers answer on each channel, once each: the MEMBERS x web/app/store
-- requests bench/offers.lua makes. bench/run.sh runs it before the listing's warm-up, so that
-- the measured listing finds every answer the listing cache can hold already made, however fast
-- the machine was during the warm-up, and so that a first answer (ranked afresh) is measured on
-- its own. When the last of them is answered it creates the file UNTIL_FILE names, and
-- bench/run.sh stops wrk; requests sent meanwhile repeat the first members.
dofile("bench/offers_request.lua")
local until_file = os.getenv("UNTIL_FILE")
local total = offers_members * #offers_channels
local sent, answered = 0, 0
request = function()
  local i = sent % total
  sent = sent + 1
  return offers_request(math.floor(i / #offers_channels), offers_channels[(i % #offers_channels) + 1])
end
response = function()
  answered = answered + 1
  if answered == total and until_file then assert(io.open(until_file, "w")):close() end
end
dofile("bench/report.lua")
