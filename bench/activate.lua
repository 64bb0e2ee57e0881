-- wrk script: first-time offer activations, one of the five open bench campaigns each. A clip
-- is idempotent per (member, offer), and 10 000 members × 5 offers would be used up in a few
-- seconds, after which the run would measure re-activations that change nothing; so every
-- request clips for a member id of its own (members need not be enrolled with tessera-rewards
-- to clip an offer open to all).
dofile("bench/nonce.lua")
dofile("bench/format.lua")
local counter, tag = 0, run_nonce()
local campaigns = {"bench-006", "bench-012", "bench-018", "bench-024", "bench-030"}
local body = '{"channel":"web"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-storefront"
request = function()
  counter = counter + 1
  return fast_format("POST", "/v1/members/a-" .. tag .. "-" .. counter .. "/offers/" .. campaigns[math.random(1, 5)] .. "/activate", nil, body)
end
dofile("bench/report.lua")
