// Offer ranking (SPEC §5). Deterministic: the same features and campaign versions give the
// same list in the same order on every channel; a channel only removes campaigns not offered
// on it. Order: priority, then fit to the member's features, then value, then campaign id.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "campaign.h"
#include "member_features.h"

namespace tessera::offers {

// Holdout: bucket = first 8 bytes of SHA-256("<campaign_id>:<member_id>") as a big-endian
// unsigned integer, mod 10 000. A member is in the control group when bucket < percent × 100.
uint32_t HoldoutBucket(const std::string& campaign_id, const std::string& member_id);
bool InHoldout(const Campaign& c, const std::string& member_id);

struct MemberOfferState {
  std::string state;  // "activated" | "redeemed"
  int64_t redemptions = 0;
};

struct RankedOffer {
  const Campaign* campaign = nullptr;  // one of Rank's `campaigns`: valid while they are
  int64_t score = 0;
  std::vector<std::string> reasons;
  std::string state;  // available | activated | redeemed
  int64_t category_hits = 0;  // purchases in the campaign's categories (fit, reasons)
};

struct RankResult {
  std::vector<RankedOffer> offers;         // best first
  std::vector<std::string> holdout;        // campaigns withheld because the member is a control
                                           // (of those whose audience the member is in)
  bool personalized = false;               // false: features were missing (fail open)
};

// `features` may be null (unavailable): campaigns without an audience rule are still ranked,
// targeted ones are left out, and personalized is false. Only the best `limit` offers are
// returned (and explained); the order does not depend on `limit`.
RankResult Rank(const std::vector<std::shared_ptr<const Campaign>>& campaigns, const MemberFeatures* features,
                const std::map<std::string, MemberOfferState>& states, const std::string& member_id,
                const std::string& channel, int64_t now_ms, size_t limit = SIZE_MAX);

// Whether `member` may be offered `c` on `channel` now (audience, holdout, schedule, channel).
bool Eligible(const Campaign& c, const MemberFeatures* features, const std::string& member_id,
              const std::string& channel, int64_t now_ms);

}  // namespace tessera::offers
