// The loyalty program rules (SPEC §4), read from TESSERA_PROGRAM_FILE and validated at start.
// Multipliers are written as decimals in the file (1.5) and held as integer hundredths (150)
// so that all points arithmetic stays in integers.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::rewards {

struct TierRule {
  std::string name;
  int64_t threshold = 0;  // qualifying points needed
};

struct ProgramRules {
  std::string program_id;
  int64_t base_points_per_major_unit = 10;
  std::map<std::string, int> currencies;               // code -> minor-unit exponent (USD -> 2)
  std::map<std::string, int64_t> category_multipliers;  // hundredths; absent = 100
  std::map<std::string, int64_t> channel_multipliers;   // web | app | store
  std::map<std::string, int64_t> tier_multipliers;
  std::vector<TierRule> tiers;  // ascending thresholds, first is 0
  int qualifying_window_days = 365;
  int lot_expiry_days = 365;
  int expiry_warning_days = 30;
  int pending_days = 0;
  int claim_window_days = 365;     // purchases (and offer bonuses) older than this earn nothing
  int reversal_window_days = 365;  // refunds and redemption cancellations older than this: refused
  int64_t max_adjustment_points = 5000;
  int64_t max_agent_daily_points = 20000;
  int max_hold_ttl_seconds = 900;
  int ledger_online_entries = 1000;  // older entries stay on tessera.ledger.v1
  nlohmann::json document;           // the file as loaded, for GET /v1/program

  // How long order, redemption and hold records are kept, counted from the record's instant
  // (purchase, redemption, hold expiry): a day past the longer of the two windows, so a record
  // is removed only once nothing could still use it — a purchase that old can no longer earn
  // (so its order cannot earn twice) nor be refunded, a redemption that old can no longer be
  // cancelled.
  int64_t RecordRetentionMs() const;

  const TierRule& TierFor(int64_t qualifying) const;
  int TierIndex(const std::string& name) const;  // -1 when unknown
  int64_t Multiplier(const std::map<std::string, int64_t>& table, const std::string& key) const;
};

// Parses and validates the program file. Throws ConfigError naming the offending field
// ("program.tiers[1].threshold: must be greater than the tier below").
ProgramRules ParseProgram(const std::string& json_text, const std::string& origin);
ProgramRules LoadProgramFile(const std::string& path);

}  // namespace tessera::rewards
