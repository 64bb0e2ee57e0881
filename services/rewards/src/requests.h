// Parsing and validation of request bodies and purchase events into use-case inputs. Every
// rule of SPEC §3/§4 on shape is enforced here (unknown fields, types, ranges, ids), so a bad
// request is a 400 naming the field and never reaches the store.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "program.h"
#include "rewards_app.h"
#include "tessera/clock.h"

namespace tessera::rewards {

// All throw ProblemError(400 validation_failed | malformed_json).
EnrollInput ParseEnroll(const nlohmann::json& body);
// `now` bounds occurred_at (no more than 5 minutes in the future).
EarnInput ParseEarn(const nlohmann::json& body, const ProgramRules& rules, TimePoint now);
RedeemInput ParseRedeem(const nlohmann::json& body);
HoldInput ParseHold(const nlohmann::json& body, const ProgramRules& rules);
// Either a refund ({order_id, refund_minor, reason}) or a cancellation ({redemption_id, reason}).
std::variant<RefundInput, CancelRedemptionInput> ParseReversal(const nlohmann::json& body);
AdjustInput ParseAdjust(const nlohmann::json& body);

inline constexpr std::initializer_list<const char*> kChannels = {"web", "app", "store"};

}  // namespace tessera::rewards
