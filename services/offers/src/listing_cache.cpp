#include "listing_cache.h"

#include <algorithm>
#include <functional>

namespace tessera::offers {

namespace {
// Map node, key, LRU node: what an entry costs besides its strings.
constexpr size_t kMemberOverhead = 160;
}  // namespace

size_t CachedListing::Bytes() const {
  size_t n = sizeof(CachedListing) + variant.size() + watermark.size() + tail.size();
  for (const auto& [id, v] : quoted) n += sizeof(quoted[0]) + id.size();
  for (const auto& id : shown) n += sizeof(std::string) + id.size();
  for (const auto& id : holdout) n += sizeof(std::string) + id.size();
  return n;
}

ListingCache::ListingCache(size_t max_bytes)
    : shard_budget_(max_bytes / kShards), shards_(std::make_unique<Shard[]>(kShards)) {}

ListingCache::Shard& ListingCache::ShardOf(const std::string& member_id) const {
  return shards_[std::hash<std::string>{}(member_id) % kShards];
}

void ListingCache::EraseLocked(Shard& s, std::unordered_map<std::string, Member>::iterator it) {
  s.bytes -= it->second.bytes;
  s.lru.erase(it->second.lru);
  s.members.erase(it);
}

std::shared_ptr<const CachedListing> ListingCache::Find(const std::string& member_id, const std::string& variant,
                                                        uint64_t campaigns_generation, int64_t now_ms) {
  Shard& s = ShardOf(member_id);
  std::lock_guard lock(s.mu);
  auto it = s.members.find(member_id);
  if (it != s.members.end()) {
    for (const auto& l : it->second.listings) {
      if (l->variant != variant) continue;
      if (l->campaigns_generation != campaigns_generation || now_ms >= l->valid_until_ms) break;
      s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
      hits_.fetch_add(1, std::memory_order_relaxed);
      return l;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

ListingCache::Ticket ListingCache::Begin(const std::string& member_id) const {
  Shard& s = ShardOf(member_id);
  std::lock_guard lock(s.mu);
  return {s.stamp};
}

bool ListingCache::Fill(const std::string& member_id, Ticket ticket, std::shared_ptr<const CachedListing> entry) {
  const size_t size = entry->Bytes();
  Shard& s = ShardOf(member_id);
  std::lock_guard lock(s.mu);
  if (ticket.stamp != s.stamp || size + kMemberOverhead > shard_budget_) return false;
  auto [it, fresh] = s.members.try_emplace(member_id);
  Member& m = it->second;
  if (fresh) {
    s.lru.push_front(member_id);
    m.lru = s.lru.begin();
    m.bytes = kMemberOverhead;
    s.bytes += kMemberOverhead;
  } else {
    s.lru.splice(s.lru.begin(), s.lru, m.lru);
  }
  auto same = std::find_if(m.listings.begin(), m.listings.end(),
                           [&](const auto& l) { return l->variant == entry->variant; });
  if (same == m.listings.end() && m.listings.size() == kVariantsPerMember) same = m.listings.begin();
  if (same != m.listings.end()) {
    m.bytes -= (*same)->Bytes();
    s.bytes -= (*same)->Bytes();
    m.listings.erase(same);
  }
  m.listings.push_back(std::move(entry));
  m.bytes += size;
  s.bytes += size;
  while (s.bytes > shard_budget_ && !s.lru.empty()) {
    auto victim = s.members.find(s.lru.back());
    if (victim == it && s.members.size() == 1) break;  // the budget holds at least this member
    EraseLocked(s, victim);
  }
  return true;
}

void ListingCache::Invalidate(const std::string& member_id) {
  Shard& s = ShardOf(member_id);
  std::lock_guard lock(s.mu);
  ++s.stamp;
  auto it = s.members.find(member_id);
  if (it != s.members.end()) EraseLocked(s, it);
}

void ListingCache::Clear() {
  for (size_t i = 0; i < kShards; ++i) {
    Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    ++s.stamp;
    s.members.clear();
    s.lru.clear();
    s.bytes = 0;
  }
}

size_t ListingCache::bytes() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].bytes;
  }
  return n;
}

size_t ListingCache::members() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].members.size();
  }
  return n;
}

}  // namespace tessera::offers
