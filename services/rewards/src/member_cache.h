// A per-replica cache of member states, so that a change to a member this replica has seen
// costs one Redis round trip (the compare-and-set commit) instead of two (load, then commit).
//
// Contract: an entry is only ever a *guess* at the member's current state. The commit's
// compare-and-set on the state's write version decides; a stale entry costs a conflict and a
// normal load, never a wrong answer. So entries need no invalidation protocol between
// replicas, and eviction is crude: a shard that outgrows its share of the capacity is emptied.
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "member_state.h"

namespace tessera::rewards {

struct CachedMember {
  MemberState state;
  int64_t version = 0;  // LoadResult::version the state was read or written at
};

class MemberCache {
 public:
  // capacity 0 disables the cache (every Get misses).
  explicit MemberCache(size_t capacity);

  std::optional<CachedMember> Get(const std::string& member_id) const;
  // Stores `state` at `version` unless the cache holds a later version of the member. Returns
  // what is left over: the state it replaced, or `state` itself when it was not stored (empty
  // when there was nothing). A caller on the Redis pipeline's thread hands that back to the
  // request's own thread to free, so that a state's memory is freed by the thread that
  // allocated it (tcmalloc moves memory freed by another thread through its central lists;
  // bench/README.md, sessions 21 and 32).
  MemberState Put(const std::string& member_id, MemberState state, int64_t version);
  void Erase(const std::string& member_id);

 private:
  static constexpr size_t kShards = 32;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, CachedMember> entries;
  };
  Shard& ShardFor(const std::string& member_id) const;

  size_t capacity_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace tessera::rewards
