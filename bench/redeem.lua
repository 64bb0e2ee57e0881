-- wrk script: 1-point redemptions spread uniformly over MEMBERS members, each with a unique
-- Idempotency-Key (so every request is a real spend, not a replay).
local members = tonumber(os.getenv("MEMBERS") or "10000")
local counter = 0
dofile("bench/nonce.lua")
local thread_id = run_nonce()
wrk.method = "POST"
wrk.body = '{"points":1,"channel":"store"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-pos"

request = function()
  counter = counter + 1
  local member = math.random(0, members - 1)
  wrk.headers["Idempotency-Key"] = "bench-" .. thread_id .. "-" .. counter
  return wrk.format(nil, "/v1/members/m-" .. member .. "/redemptions")
end

dofile("bench/report.lua")
