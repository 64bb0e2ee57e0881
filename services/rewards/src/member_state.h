// A member's reward account as the domain sees it: lots (each earn), active holds, and the
// counters the balances derive from. Plain data, serialised compactly to one JSON document
// per member in Redis (see docs/rewards.md).
//
//   vested  = Σ remaining of lots that have vested      pending = Σ remaining of unvested lots
//   available = vested - debt                           held    = Σ points of active holds
// `debt` is what a refund clawed back beyond what the member still had; while it is positive
// no vested lot has points left, and new vested points pay it first.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tessera::rewards {

inline constexpr int64_t kDayMs = 86'400'000;

struct Lot {
  std::string id;
  int64_t remaining = 0;
  int64_t expires_ms = 0;
  int64_t vests_ms = 0;  // 0 once vested
  bool warned = false;   // points.expiring already sent
  std::string order_id;
};

struct Allocation {
  std::string lot_id;
  int64_t points = 0;
  int64_t expires_ms = 0;  // to restore the points to their lot, or recreate it
};

struct ActiveHold {
  std::string id;
  int64_t points = 0;
  int64_t expires_ms = 0;
  int64_t created_ms = 0;
  std::string channel;
  std::string store_id;
  std::vector<Allocation> allocations;
};

struct MemberState {
  int64_t seq = 0;  // member_seq of the last change (the account's version)
  std::string member_id;
  std::string tier;
  int64_t enrolled_ms = 0;
  std::string channel, locale, time_zone;
  nlohmann::json profile = nlohmann::json::object();
  int64_t debt = 0;
  int64_t lifetime = 0;
  int64_t held = 0;
  int64_t lot_counter = 0;
  std::vector<Lot> lots;  // kept sorted by (expires_ms, id): spending order
  std::vector<ActiveHold> holds;
  std::map<int64_t, int64_t> qualifying_days;  // UTC day number -> points earned that day
  // No later than the instant (ms) of the member's oldest order, redemption or hold record; 0
  // when it has none. A state written before this was kept reads as the enrolment instant. The
  // sweep removes the records past ProgramRules::RecordRetentionMs and sets it again.
  int64_t records_since = 0;

  int64_t Vested() const;
  int64_t Pending() const;
  int64_t Available() const { return Vested() - debt; }
  int64_t Total() const { return Available() + Pending() + held; }
  int64_t Qualifying(int64_t now_ms, int window_days) const;

  std::string ToJson() const;
  // Throws std::runtime_error on a malformed document (data corruption, not user input).
  static MemberState FromJson(const std::string& text);
};

}  // namespace tessera::rewards
