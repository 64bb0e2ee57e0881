#include "member_cache.h"

#include <functional>

namespace tessera::rewards {

MemberCache::MemberCache(size_t capacity) : capacity_(capacity) {}

MemberCache::Shard& MemberCache::ShardFor(const std::string& member_id) const {
  return shards_[std::hash<std::string>{}(member_id) % kShards];
}

std::optional<CachedMember> MemberCache::Get(const std::string& member_id) const {
  if (capacity_ == 0) return std::nullopt;
  Shard& s = ShardFor(member_id);
  std::lock_guard lock(s.mu);
  auto it = s.entries.find(member_id);
  if (it == s.entries.end()) return std::nullopt;
  return it->second;
}

MemberState MemberCache::Put(const std::string& member_id, MemberState state, int64_t version) {
  if (capacity_ == 0) return state;
  Shard& s = ShardFor(member_id);
  std::lock_guard lock(s.mu);
  auto it = s.entries.find(member_id);
  if (it != s.entries.end()) {
    if (it->second.version > version) return state;  // never step back in time
    std::swap(it->second.state, state);
    it->second.version = version;
    return state;
  }
  if (s.entries.size() >= (capacity_ + kShards - 1) / kShards) s.entries.clear();
  s.entries.emplace(member_id, CachedMember{std::move(state), version});
  return {};
}

void MemberCache::Erase(const std::string& member_id) {
  if (capacity_ == 0) return;
  Shard& s = ShardFor(member_id);
  std::lock_guard lock(s.mu);
  s.entries.erase(member_id);
}

}  // namespace tessera::rewards
