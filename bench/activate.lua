-- wrk script: offer activations (members from MEMBERS, the five open bench campaigns).
local members = tonumber(os.getenv("MEMBERS") or "10000")
local campaigns = {"bench-006", "bench-012", "bench-018", "bench-024", "bench-030"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-storefront"
wrk.body = '{"channel":"web"}'
request = function()
  return wrk.format(nil, "/v1/members/m-" .. math.random(0, members - 1) .. "/offers/" .. campaigns[math.random(1, 5)] .. "/activate")
end
dofile("bench/report.lua")
