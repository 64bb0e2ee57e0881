// A compact program for tests: USD, base 10/unit, electronics x2, app x1.5, silver x1.25 at
// 1 000, gold x1.5 at 5 000, lots expire after 100 days (warning 10 days before), pending 7
// days, reversals within 30 days, caps 1 000 per adjustment and 1 500 per agent per day.
#pragma once

#include "program.h"

namespace tessera::rewards::test {

inline const char* kTestProgramJson = R"({
  "program_id": "test",
  "earn": {"base_points_per_major_unit": 10, "currencies": {"USD": 2, "JPY": 0},
           "category_multipliers": {"electronics": 2.0, "grocery": 0.5},
           "channel_multipliers": {"app": 1.5},
           "tier_multipliers": {"silver": 1.25, "gold": 1.5}},
  "tiers": [{"name": "member", "threshold": 0}, {"name": "silver", "threshold": 1000},
            {"name": "gold", "threshold": 5000}],
  "expiry": {"lot_days": 100, "warning_days": 10, "qualifying_window_days": 365},
  "pending_days": 7,
  "reversal_window_days": 30,
  "goodwill": {"max_points_per_adjustment": 1000, "max_points_per_agent_per_day": 1500},
  "holds": {"max_ttl_seconds": 900}
})";

inline ProgramRules TestProgram(int pending_days = 7) {
  ProgramRules p = ParseProgram(kTestProgramJson, "test");
  p.pending_days = pending_days;
  return p;
}

}  // namespace tessera::rewards::test
