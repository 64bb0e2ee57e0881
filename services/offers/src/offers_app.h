// The offer use cases (SPEC §5), framework-free: campaigns for marketing ops, offers for a
// member on a channel, activation and redemption, features. Each returns the response to send.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "campaign_cache.h"
#include "listing_cache.h"
#include "member_features.h"
#include "offers_store.h"
#include "stats.h"
#include "tessera/clock.h"
#include "tessera/http_types.h"
#include "tessera/idempotency.h"
#include "tessera/logging.h"

namespace tessera::offers {

struct CallContext {
  std::string request_id;
  std::string idempotency_key;  // empty: none
  std::string request_hash;
};

struct RedeemBody {
  std::string order_id, channel, decision_id;
};

class OffersApp {
 public:
  OffersApp(OffersStore& store, CampaignCache& cache, StatsAggregator& stats, IdempotencyStore& idempotency,
            const Clock& clock, Logger& logger, std::string quote_secret,
            std::chrono::milliseconds quote_ttl = std::chrono::minutes(15));

  HttpResponse CreateCampaign(const nlohmann::json& body, const CallContext& ctx);
  HttpResponse ReplaceCampaign(const std::string& id, const nlohmann::json& body, std::optional<int64_t> if_match,
                               const CallContext& ctx);
  HttpResponse GetCampaign(const std::string& id);
  HttpResponse ListCampaigns(const std::optional<std::string>& status, const std::optional<std::string>& channel,
                             int64_t offset, int limit);
  HttpResponse Transition(const std::string& id, const std::string& action, const CallContext& ctx);
  HttpResponse CampaignStats(const std::string& id);

  HttpResponse OffersFor(const std::string& member_id, const std::string& channel, int limit,
                         const std::optional<std::string>& locale);
  HttpResponse Features(const std::string& member_id);
  HttpResponse Activate(const std::string& member_id, const std::string& offer_id, const std::string& channel,
                        const CallContext& ctx);
  HttpResponse Redeem(const std::string& member_id, const std::string& offer_id, const RedeemBody& body,
                      const CallContext& ctx);

  // Applies a ledger or purchase event to member features (consumers). Returns false for a
  // duplicate. Throws PoisonMessage-worthy std::invalid_argument for malformed payloads.
  bool ApplyLedgerEvent(const nlohmann::json& envelope);
  bool ApplyPurchaseEvent(const nlohmann::json& envelope);

  CampaignCache& cache() { return cache_; }
  // Serve offers lists from `listings` (owned by the caller, may be null: off) while `in_sync`
  // returns true — it must apply every change of a member's cached keys made in Redis before the
  // call (RedisInvalidations::Sync). This replica's own writes invalidate the member directly.
  void UseListingCache(ListingCache* listings, std::function<bool()> in_sync);

 private:
  HttpResponse SaveWithEvent(Campaign c, int64_t expected_rev, const std::string& event_type, const CallContext& ctx,
                             int status);
  std::string Envelope(const std::string& type, const std::optional<std::string>& member_id, const std::string& channel,
                       const std::string& correlation_id, nlohmann::json payload) const;
  std::optional<MemberFeatures> LoadFeatures(const std::string& member_id,
                                             std::map<std::string, std::string>* offers_out);
  // Removes the member's states of ended and archived campaigns found in `states` (read by a
  // listing), with the natural-key records of its redemptions of them: nothing can use them
  // again — activating or redeeming such a campaign is a 410 — so both stay bounded by the
  // campaigns still running. Best effort: a failure is logged and the next listing tries again.
  void ForgetRetiredStates(const std::string& member_id, const std::map<std::string, std::string>& states);
  // Ranks and renders the member-dependent part of an offers list. `complete` is false when the
  // member's state could not be read (the list is not personalized and must not be kept).
  std::shared_ptr<CachedListing> BuildListing(const std::string& member_id, const std::string& channel, int limit,
                                              const std::optional<std::string>& locale,
                                              const CampaignCache::Versioned& campaigns, int64_t now, bool* complete);
  // Runs `write`, a write to the member's cached keys, then drops the member's listing —
  // whether the write changed something, changed nothing or threw (outcome unknown): one
  // needless miss at worst, never a stale answer from this replica.
  template <typename Write>
  decltype(auto) WritingMember(const std::string& member_id, Write&& write) {
    struct DropAfter {
      ListingCache* listings;
      const std::string& member;
      ~DropAfter() {
        if (listings) listings->Invalidate(member);
      }
    } drop{listings_, member_id};
    return write();
  }

  OffersStore& store_;
  CampaignCache& cache_;
  StatsAggregator& stats_;
  IdempotencyStore& idempotency_;
  const Clock& clock_;
  Logger& logger_;
  std::string quote_secret_;
  std::chrono::milliseconds quote_ttl_;
  ListingCache* listings_ = nullptr;
  std::function<bool()> listings_in_sync_;
};

}  // namespace tessera::offers
