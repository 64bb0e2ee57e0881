#include "tessera/idempotency.h"

#include "tessera/crypto.h"
#include "tessera/lua_library.h"

namespace tessera {

namespace {
const LuaScript& BeginScript() {
  static const LuaScript* script = new LuaScript(MakeScript("idempotency_begin", R"lua(
local h, status, body = tessera_idem_read(KEYS[1])
if not h then
  tessera_idem_store(KEYS[1], ARGV[1], '0', '', ARGV[2], ARGV[3])
  return {'proceed'}
end
if h ~= ARGV[1] then return {'mismatch'} end
if status == '0' then return {'in_progress'} end
return {'replay', status, body}
)lua"));
  return *script;
}

const LuaScript& AbandonScript() {
  static const LuaScript* script = new LuaScript(MakeScript("idempotency_abandon", R"lua(
local h, status = tessera_idem_read(KEYS[1])
if h == ARGV[1] and status == '0' then return redis.call('DEL', KEYS[1]) end
return 0
)lua"));
  return *script;
}
const LuaScript& CompleteScript() {
  static const LuaScript* script = new LuaScript(MakeScript("idempotency_complete", R"lua(
local h, status = tessera_idem_read(KEYS[1])
if h == ARGV[1] and status == '0' then
  tessera_idem_store(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
  return 1
end
return 0
)lua"));
  return *script;
}
}  // namespace

void IdempotencyStore::Complete(const std::string& record_key, const std::string& request_hash, int status,
                                const std::string& body) {
  pool_.Eval(CompleteScript(), {record_key},
             {request_hash, std::to_string(status), body, std::to_string(options_.record_ttl.count()),
              options_.write_hash ? "1" : "0"});
}

IdempotencyStore::IdempotencyStore(RedisPool& pool, IdempotencyOptions options)
    : pool_(pool), options_(options) {}

IdempotencyBegin IdempotencyStore::Begin(const std::string& record_key, const std::string& request_hash) {
  RedisValue v = pool_.Eval(BeginScript(), {record_key},
                            {request_hash, std::to_string(options_.in_flight_ttl.count()), options_.write_hash ? "1" : "0"});
  const std::string& tag = v.elements.at(0).AsString();
  if (tag == "proceed") return {IdempotencyOutcome::kProceed, {}};
  if (tag == "mismatch") return {IdempotencyOutcome::kMismatch, {}};
  if (tag == "in_progress") return {IdempotencyOutcome::kInProgress, {}};
  return {IdempotencyOutcome::kReplay,
          {static_cast<int>(v.elements.at(1).AsInt()), v.elements.at(2).AsString()}};
}

void IdempotencyStore::Abandon(const std::string& record_key, const std::string& request_hash) {
  pool_.Eval(AbandonScript(), {record_key}, {request_hash});
}

std::string IdempotencyStore::StringRecord(int status, std::string_view request_hash, std::string_view body) {
  std::string record = std::to_string(status);
  record.reserve(record.size() + request_hash.size() + body.size() + 2);
  record.append(" ").append(request_hash).append("\n").append(body);
  return record;
}

std::string IdempotencyStore::RequestHash(std::string_view method, std::string_view path,
                                          std::string_view body) {
  std::string material;
  material.reserve(method.size() + path.size() + body.size() + 2);
  material.append(method).push_back('\n');
  material.append(path).push_back('\n');
  material.append(body);
  return Sha256Hex(material);
}

}  // namespace tessera
