// A replica's memory of the offers lists it answered (docs/offers.md, "Listing cache").
//
// An entry is the part of a `GET /v1/members/{id}/offers` answer that depends only on the
// member's features and offer states, the campaign snapshot and the time window it was ranked
// in — everything after the per-request head (channel, decision_id, generated_at, member_id).
// It is served again only while all of these hold:
//  - no invalidation for the member arrived since the member's state was read (Redis broadcasts
//    every change of the member's cached keys; this replica's own writes invalidate directly);
//  - the campaign snapshot is the one it was ranked with (`campaigns_generation`);
//  - `now < valid_until_ms`: the first instant at which the same inputs could rank differently
//    (a campaign's start or end, a day boundary of a days-since feature, a purchase leaving the
//    90-day window), and at most kMaxAge after it was ranked.
// Memory is bounded by `max_bytes` (least recently used members go first). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tessera::offers {

struct CachedListing {
  std::string variant;                                  // channel|limit|locale asked for
  uint64_t campaigns_generation = 0;
  int64_t valid_until_ms = 0;
  std::string watermark;                                // the features' watermark, for the quote
  std::vector<std::pair<std::string, int64_t>> quoted;  // campaign id and version, shown order
  std::vector<std::string> shown, holdout;              // for campaign statistics
  std::string tail;                                     // `,"offers":[...],"personalized":...}`

  size_t Bytes() const;
};

class ListingCache {
 public:
  static constexpr int64_t kMaxAgeMs = 60'000;
  // One stamp per shard: it moves whenever a member of the shard is invalidated.
  struct Ticket {
    uint64_t stamp = 0;
  };

  explicit ListingCache(size_t max_bytes);

  // The member's entry for `variant`, if it is still valid for `campaigns_generation` at `now_ms`.
  std::shared_ptr<const CachedListing> Find(const std::string& member_id, const std::string& variant,
                                            uint64_t campaigns_generation, int64_t now_ms);
  // Take before reading the member's state from Redis; Fill stores only if no invalidation of a
  // member of its shard (or Clear) happened since, so a value superseded in between is never kept.
  Ticket Begin(const std::string& member_id) const;
  // Returns false when the entry was refused (stale ticket, or larger than a shard's budget).
  bool Fill(const std::string& member_id, Ticket ticket, std::shared_ptr<const CachedListing> listing);
  void Invalidate(const std::string& member_id);
  void Clear();

  size_t bytes() const;
  size_t members() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 64;
  static constexpr size_t kVariantsPerMember = 8;
  struct Member {
    std::vector<std::shared_ptr<const CachedListing>> listings;
    std::list<std::string>::iterator lru;
    size_t bytes = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    uint64_t stamp = 0;
    std::unordered_map<std::string, Member> members;
    std::list<std::string> lru;  // most recently used first
    size_t bytes = 0;
  };
  Shard& ShardOf(const std::string& member_id) const;
  static void EraseLocked(Shard& s, std::unordered_map<std::string, Member>::iterator it);

  size_t shard_budget_;
  std::atomic<uint64_t> hits_{0}, misses_{0};
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace tessera::offers
