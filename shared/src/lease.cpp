#include "tessera/lease.h"

namespace tessera {

const LuaScript& LeaseScript() {
  static const LuaScript* script = new LuaScript("tessera_lease", R"lua(
local cur = redis.call('GET', KEYS[1])
if ARGV[3] == 'release' then
  if cur == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua");
  return *script;
}

bool AcquireLease(RedisPool& pool, const std::string& key, const std::string& owner, int64_t ttl_ms) {
  return pool.Eval(LeaseScript(), {key}, {owner, std::to_string(ttl_ms), "acquire"}).AsInt() == 1;
}

void ReleaseLease(RedisPool& pool, const std::string& key, const std::string& owner) {
  pool.Eval(LeaseScript(), {key}, {owner, "0", "release"});
}

}  // namespace tessera
