// Member features (SPEC §5): what audience rules and ranking see about a member, built from
// tessera.ledger.v1 (tier, points, enrolment, purchases) and tessera.purchases.v1 (categories).
// Stored as one Redis hash per member; this type reads it and derives the time-based values.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "jsonlogic.h"

namespace tessera::offers {

inline constexpr int64_t kDayMs = 86'400'000;

struct MemberFeatures {
  bool known = false;  // false: no event about this member has arrived yet
  std::string tier, persona, locale;
  int64_t lifetime_points = 0, available_points = 0;
  int64_t enrolled_ms = 0, last_purchase_ms = 0;
  std::vector<std::pair<int64_t, int64_t>> purchases;  // (ms, spend minor), last 90 days
  std::map<std::string, int64_t> categories;           // purchase count per category
  int64_t ledger_seq = 0;       // last ledger member_seq applied
  int64_t purchase_events = 0;  // purchase events applied

  // GET /v1/members/{id}/features
  nlohmann::json View(const std::string& member_id, int64_t now_ms) const;
  // Changes whenever a feature-changing event is applied; quotes carry it.
  std::string Watermark() const;
  // The first instant after `now_ms` at which a time-based value audience rules see (days since
  // enrolment or last purchase, purchases and spend over 90 days) changes; INT64_MAX if none.
  // Kept beside FeatureView, whose formulas it mirrors.
  int64_t NextChangeMs(int64_t now_ms) const;
  static MemberFeatures FromHash(const std::map<std::string, std::string>& fields);
};

// The features as audience rules see them during one request: the time-based values (days
// since, 90-day purchases and spend) are computed once, and each lookup is a switch on the
// variable's id. `f` and `channel` must outlive the view.
class FeatureView {
 public:
  FeatureView(const MemberFeatures& f, const std::string& channel, int64_t now_ms);
  RuleValue Get(const FeatureRef& r) const;

 private:
  const MemberFeatures& f_;
  const std::string& channel_;
  int64_t now_ms_;
  int64_t purchases_90d_ = 0, spend_90d_ = 0;
};

}  // namespace tessera::offers
