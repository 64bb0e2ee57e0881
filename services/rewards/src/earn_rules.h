// Points for a purchase (SPEC §4 "earn"): base points per currency major unit, times the
// category multiplier of each line, the channel multiplier and the member's tier multiplier,
// rounded down once per order. Pure function; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "program.h"

namespace tessera::rewards {

struct PurchaseLine {
  std::string sku;
  std::string category;
  int64_t amount_minor = 0;  // unit price in minor units
  int64_t quantity = 1;
};

struct Purchase {
  std::string order_id;
  std::string channel;  // web | app | store
  std::string store_id;
  std::string currency;
  int64_t total_minor = 0;
  std::vector<PurchaseLine> lines;  // empty: the whole total earns the base rate
};

struct RuleContribution {
  std::string rule;  // "base", "category:electronics", "channel:app", "tier:gold"
  int64_t points = 0;
};

struct EarnResult {
  int64_t points = 0;
  std::vector<RuleContribution> breakdown;  // sums to `points`
};

// When lines are given, only lines earn (tax, shipping and the rest of total_minor do not).
// Each stage is floored cumulatively, so the breakdown adds up to exactly `points`.
// Precondition: currency is in the program (validated by the caller).
EarnResult ComputeEarn(const ProgramRules& rules, const Purchase& purchase, const std::string& tier);

}  // namespace tessera::rewards
