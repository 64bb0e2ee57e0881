-- Tessera's shared Lua library. The helpers a service script uses are prepended to it (see
-- lua_library.h), so they run inside the same atomic script as the state change they accompany.
-- Paragraphs are separated by blank lines: one helper per paragraph, its comment first, and a
-- helper may call only helpers above it.
--
-- On a hot path, keep numbers as the decimal strings they arrive as: a Lua number handed to
-- redis.call is formatted with snprintf("%.17g"), and tonumber() is a function call; under
-- callgrind each cost 1 000-3 000 instructions, in a redemption's commit of about 165 000
-- (bench/README.md, session 28). Every helper below is a closure made again at each call of
-- every script that carries it (about 800 instructions each), so keep the library to shared
-- protocols.

-- Appends one event to an outbox stream. `value` is the JSON envelope; the relay publishes it
-- to `topic` with message key `key`, then deletes the entry.
local function tessera_outbox_append(stream, topic, key, value)
  return redis.call('XADD', stream, '*', 'topic', topic, 'key', key, 'value', value)
end

-- Idempotency record: a hash {h = request hash, s = HTTP status ('0' while in flight),
-- b = response body}. Returns `done, in_flight`: done is nil when the request may be applied, or
-- {status, body} of the first response when it was already applied (the caller replays it and
-- changes nothing); a different request hash under the same key gives {'422', ''}. in_flight is
-- true when the key is marked in flight by a request with this hash (done is then nil).
local function tessera_idem_lookup(key, req_hash)
  if key == '' then return nil, false end
  local rec = redis.call('HMGET', key, 'h', 's', 'b')
  if not rec[1] then return nil, false end
  if rec[1] ~= req_hash then return {'422', ''}, false end
  if rec[2] and rec[2] ~= '0' then return {rec[2], rec[3] or ''}, false end
  return nil, true
end

-- tessera_idem_lookup's first result alone: a mark in flight does not stop the caller.
local function tessera_idem_check(key, req_hash)
  return (tessera_idem_lookup(key, req_hash))
end

-- Stores the final response of a request, in the same script as its change. Pass `status` and
-- `ttl_ms` as strings ('201', '86400000'): a number is formatted on every call (see the top).
local function tessera_idem_store(key, req_hash, status, body, ttl_ms)
  if key == '' then return end
  redis.call('HSET', key, 'h', req_hash, 's', status, 'b', body)
  redis.call('PEXPIRE', key, ttl_ms)
end
