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

std::vector<bool> AcquireLeases(RedisPool& pool, const std::vector<std::string>& keys, const std::string& owner,
                                int64_t ttl_ms) {
  const LuaScript& script = LeaseScript();
  const std::string ttl = std::to_string(ttl_ms);
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(keys.size());
  for (const auto& key : keys) cmds.push_back({"EVALSHA", script.sha1(), "1", key, owner, ttl, "acquire"});
  auto replies = pool.Pipeline(cmds);
  // NOSCRIPT (a restarted or flushed Redis) means none of them ran: load the script, send again.
  if (!replies.empty() && replies[0].IsError() && replies[0].str.rfind("NOSCRIPT", 0) == 0) {
    pool.Command({"SCRIPT", "LOAD", script.source()}).ThrowIfError();
    replies = pool.Pipeline(cmds);
  }
  std::vector<bool> ours;
  ours.reserve(replies.size());
  for (const auto& r : replies) ours.push_back(r.ThrowIfError().AsInt() == 1);
  return ours;
}

void ReleaseLease(RedisPool& pool, const std::string& key, const std::string& owner) {
  pool.Eval(LeaseScript(), {key}, {owner, "0", "release"});
}

namespace {
const LuaScript& MembershipScript() {
  static const LuaScript* script = new LuaScript("tessera_membership", R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])  -- gone once every member's time ran out
return redis.call('ZCARD', KEYS[1])
)lua");
  return *script;
}
}  // namespace

int64_t RenewMembership(RedisPool& pool, const std::string& registry, const std::string& owner, int64_t ttl_ms) {
  return pool.Eval(MembershipScript(), {registry}, {owner, std::to_string(ttl_ms)}).ThrowIfError().AsInt();
}

void LeaveMembership(RedisPool& pool, const std::string& registry, const std::string& owner) {
  pool.Command({"ZREM", registry, owner}).ThrowIfError();
}

}  // namespace tessera
