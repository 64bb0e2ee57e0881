-- wrk script: checkout holds of 1 point, each captured by a following request (the pair is the
-- scenario: two requests per completed checkout).
local members = tonumber(os.getenv("MEMBERS") or "10000")
dofile("bench/nonce.lua")
dofile("bench/format.lua")
local counter, tag = 0, run_nonce()
local pending = {}
local hold_body = '{"points":1,"channel":"store","ttl_seconds":600}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer dev-pos"
request = function()
  local h = table.remove(pending)
  if h then
    return fast_format("POST", "/v1/members/" .. h.member .. "/holds/" .. h.id .. "/capture", nil, "")
  end
  counter = counter + 1
  local member = "m-" .. math.random(0, members - 1)
  return fast_format("POST", "/v1/members/" .. member .. "/holds",
                     "Idempotency-Key: h-" .. tag .. "-" .. counter .. "\r\nX-Member: " .. member .. "\r\n", hold_body)
end
response = function(status, headers, body)
  if status == 201 then
    local id = body:match('"hold_id":"([^"]+)"')
    local member = body:match('"member_id":"([^"]+)"')
    if id and member then table.insert(pending, {id = id, member = member}) end
  end
end
dofile("bench/report.lua")
