-- wrk script: an earn per request (unique order_id) for members drawn from MEMBERS.
local members = tonumber(os.getenv("MEMBERS") or "10000")
local now = os.getenv("NOW")
dofile("bench/nonce.lua")
dofile("bench/format.lua")
local counter, tag = 0, run_nonce()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-pos"
request = function()
  counter = counter + 1
  local body = string.format('{"order_id":"b-%s-%d","channel":"store","occurred_at":"%s","currency":"USD","total_minor":1999,"items":[{"sku":"s","category":"electronics","amount_minor":1999,"quantity":1}]}',
                             tag, counter, now)
  return fast_format("POST", "/v1/members/m-" .. math.random(0, members - 1) .. "/earnings", nil, body)
end
dofile("bench/report.lua")
