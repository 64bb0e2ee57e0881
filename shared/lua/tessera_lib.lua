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

-- Idempotency record, one key per request key, in one of two formats. A string
-- '<status> <request hash>\n<body>' (one GET to read, one SET ... PX to write), or, as releases
-- before 2026-11-25 wrote it, a hash {h = request hash, s = status, b = body} (HMGET to read,
-- HSET and PEXPIRE to write). The status is '0' while the request is in flight. Both formats are
-- read; which one is written is the caller's `as_hash` ('1': the hash, for replicas of an
-- earlier release during a rolling update; TESSERA_IDEMPOTENCY_RECORDS, docs/operations.md).
-- Returns request hash, status, body, or nil when there is no record.
local function tessera_idem_read(key)
  local rec = redis.pcall('GET', key)
  if not rec then return nil end
  if type(rec) == 'table' then  -- WRONGTYPE: a hash
    local h = redis.call('HMGET', key, 'h', 's', 'b')
    if not h[1] then return nil end
    return h[1], h[2] or '0', h[3] or ''
  end
  local sp = string.find(rec, ' ', 1, true)
  local nl = string.find(rec, '\n', sp + 1, true)
  return string.sub(rec, sp + 1, nl - 1), string.sub(rec, 1, sp - 1), string.sub(rec, nl + 1)
end

-- Returns `done, in_flight`: done is nil when the request may be applied, or {status, body} of
-- the first response when it was already applied (the caller replays it and changes nothing); a
-- different request hash under the same key gives {'422', ''}. in_flight is true when the key is
-- marked in flight by a request with this hash (done is then nil).
local function tessera_idem_lookup(key, req_hash)
  if key == '' then return nil, false end
  local h, status, body = tessera_idem_read(key)
  if not h then return nil, false end
  if h ~= req_hash then return {'422', ''}, false end
  if status ~= '0' then return {status, body}, false end
  return nil, true
end

-- tessera_idem_lookup's first result alone: a mark in flight does not stop the caller.
local function tessera_idem_check(key, req_hash)
  return (tessera_idem_lookup(key, req_hash))
end

-- Stores the final response of a request, in the same script as its change, or, with status
-- '0' and an empty body, marks the request in flight. Pass `status` and `ttl_ms` as strings
-- ('201', '86400000'): a number is formatted on every call (see the top).
-- This runs after the change's writes, so it must not fail: a hash is not written over a string
-- (a replica writing strings marked the key in flight after this request's own mark expired);
-- the string is written instead, which every release that writes strings reads.
local function tessera_idem_store(key, req_hash, status, body, ttl_ms, as_hash)
  if key == '' then return end
  if as_hash == '1' and type(redis.pcall('HSET', key, 'h', req_hash, 's', status, 'b', body)) == 'number' then
    redis.call('PEXPIRE', key, ttl_ms)
  else
    redis.call('SET', key, status .. ' ' .. req_hash .. '\n' .. body, 'PX', ttl_ms)
  end
end
