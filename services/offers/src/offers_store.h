// Where offer state lives: campaigns (global hash slot), member features and member offer
// states (the member's bucket slot), campaign budgets and stats (the campaign slot). Each
// mutating call is one Lua script; all throw UnavailableError when Redis is unreachable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tessera/redis.h"

namespace tessera::offers {

struct StoredCampaign {
  std::string doc;  // Campaign JSON
  int64_t rev = 0;  // compare-and-set counter (every write)
  std::string id;   // the campaign id it is stored under
};

enum class SaveResult { kOk, kConflict, kExists };

struct RedeemRequest {
  std::string member_id, campaign_id, order_id;
  std::optional<int64_t> per_member_limit;
  bool requires_activation = false;
  int64_t version = 0;
  int64_t now_ms = 0;
  std::string event;          // offer.redeemed envelope
  std::string response_body;  // 201 body
  std::string idempotency_key, request_hash;  // record key (member tag; required) and hash
};

struct RedeemResult {
  std::string outcome;  // ok | replay | duplicate | not_activated | limit
  int status = 0;
  std::string body;
};

// What OffersStore::ForgetOffers removed.
struct ForgottenOffers {
  int64_t states = 0;   // offer states
  int64_t records = 0;  // natural-key records of redemptions
};

class OffersStore {
 public:
  // `write_hash_records`: idempotency records written as hashes (IdempotencyOptions::write_hash).
  explicit OffersStore(RedisPool& pool, bool write_hash_records = false)
      : pool_(pool), write_hash_records_(write_hash_records) {}

  std::optional<StoredCampaign> GetCampaign(const std::string& id);
  std::optional<std::string> GetCampaignVersion(const std::string& id, int64_t version);
  // Every campaign id, in creation order (`offset`, `limit` page through them).
  std::vector<std::string> CampaignIds(int64_t offset, int64_t limit);
  std::vector<StoredCampaign> GetCampaigns(const std::vector<std::string>& ids);
  SaveResult SaveCampaign(const std::string& id, int64_t expected_rev, const std::string& doc, int64_t version,
                          int64_t index_score, const std::string& event);

  // Features and offer states of a member, one round trip.
  struct MemberView {
    std::map<std::string, std::string> features;
    std::map<std::string, std::string> offers;  // campaign id -> state JSON
  };
  MemberView LoadMember(const std::string& member_id);
  bool ApplyLedgerFeatures(const std::string& member_id, const std::vector<std::string>& args);
  bool ApplyPurchaseFeatures(const std::string& member_id, const std::string& order_id, const std::string& categories_json,
                             int64_t now_ms);

  // Removes, atomically, the member's states of these campaigns (a cached member key, so every
  // replica hears of it) and the natural-key records of the member's redemptions of them
  // (forget.lua). For campaigns that have ended or been archived only: nothing reads either again.
  ForgottenOffers ForgetOffers(const std::string& member_id, const std::vector<std::string>& campaign_ids);
  // Returns the existing state JSON when the offer was already activated (nothing written).
  std::optional<std::string> Activate(const std::string& member_id, const std::string& campaign_id,
                                      const std::string& state_json, const std::string& event);
  bool ReserveBudget(const std::string& campaign_id, int64_t points, std::optional<int64_t> total_redemptions,
                     std::optional<int64_t> total_points);
  void ReleaseBudget(const std::string& campaign_id, int64_t points);
  RedeemResult Redeem(const RedeemRequest& request);
  // One round trip after a write to a member's cached keys: when it returns, Redis has sent the
  // write's invalidation to every replica (it writes a turn's invalidations before it reads the
  // next command), so a replica asked after this replica answers has it (RedisInvalidations).
  void Barrier();
  // Campaign statistics: counters and HyperLogLogs updated in batches.
  void AddStats(const std::map<std::string, std::map<std::string, int64_t>>& counters,
                const std::map<std::string, std::vector<std::string>>& holdout_members);
  std::map<std::string, int64_t> Stats(const std::string& campaign_id);

  static std::string CampaignKey(const std::string& id);

 private:
  RedisPool& pool_;
  bool write_hash_records_;
};

}  // namespace tessera::offers
