-- wrk script: 1-point redemptions spread uniformly over MEMBERS members, each with a unique
-- Idempotency-Key (so every request is a real spend, not a replay).
local members = tonumber(os.getenv("MEMBERS") or "10000")
local offset = tonumber(os.getenv("MEMBER_OFFSET") or "0")  -- m-<offset> .. m-<offset + members - 1>
local counter = 0
dofile("bench/nonce.lua")
dofile("bench/format.lua")
local key_prefix = "Idempotency-Key: bench-" .. run_nonce() .. "-"
local body = '{"points":1,"channel":"store"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-pos"

request = function()
  counter = counter + 1
  local member = offset + math.random(0, members - 1)
  return fast_format("POST", "/v1/members/m-" .. member .. "/redemptions", key_prefix .. counter .. "\r\n", body)
end

dofile("bench/report.lua")
