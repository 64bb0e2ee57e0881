-- Per-run uniqueness for the wrk scripts. wrk's LuaJIT starts every run with the same
-- math.random sequence, so a tag drawn from it repeats from run to run: a measured run would
-- replay the Idempotency-Keys and order ids of its warm-up run, and those requests would be
-- answered from the idempotency record without any change. run_nonce() takes 8 bytes from
-- /dev/urandom instead, and seeds math.random with them so that members are drawn in a new
-- order each run too. Load with dofile("bench/nonce.lua") from the repository root.
function run_nonce()
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(8)
  f:close()
  local hex, seed = "", 0
  for i = 1, #bytes do
    local b = bytes:byte(i)
    hex = hex .. string.format("%02x", b)
    if i <= 6 then seed = seed * 256 + b end
  end
  math.randomseed(seed)
  return hex
end
