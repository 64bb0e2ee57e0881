#include "requests.h"

#include <variant>

#include "tessera/errors.h"
#include "tessera/http_types.h"

namespace tessera::rewards {

namespace {
constexpr int64_t kMaxPoints = 1'000'000'000;
constexpr int64_t kMaxMinor = 1'000'000'000'000;  // 10^12 minor units

[[noreturn]] void Invalid(const std::string& field, const std::string& detail) {
  throw ProblemError(Problem::Validation(field, detail));
}
}  // namespace

EnrollInput ParseEnroll(const nlohmann::json& body) {
  JsonObjectReader r(body, {"member_id", "channel", "locale", "time_zone", "profile"});
  EnrollInput in;
  in.member_id = r.RequiredId("member_id");
  in.channel = r.RequiredEnum("channel", kChannels);
  in.locale = r.OptionalLocale("locale").value_or("en");
  in.time_zone = r.OptionalTimeZone("time_zone").value_or("UTC");
  if (const auto* p = r.Optional("profile")) {
    if (!p->is_object()) Invalid("/profile", "profile must be an object");
    if (p->dump().size() > 4096) Invalid("/profile", "profile must be at most 4 KiB");
    in.profile = *p;
  }
  return in;
}

EarnInput ParseEarn(const nlohmann::json& body, const ProgramRules& rules, TimePoint now) {
  JsonObjectReader r(body, {"order_id", "channel", "store_id", "occurred_at", "currency", "total_minor", "items"});
  EarnInput in;
  in.purchase.order_id = r.RequiredId("order_id");
  in.purchase.channel = r.RequiredEnum("channel", kChannels);
  in.purchase.store_id = r.OptionalId("store_id").value_or("");
  const std::string occurred = r.RequiredString("occurred_at", 1, 64);
  auto t = ParseRfc3339(occurred);
  if (!t) Invalid("/occurred_at", "occurred_at must be an RFC 3339 date-time");
  if (*t > now + std::chrono::minutes(5)) Invalid("/occurred_at", "occurred_at is in the future");
  in.occurred_ms = ToUnixMillis(*t);
  in.purchase.currency = r.RequiredString("currency", 3, 3);
  if (!rules.currencies.count(in.purchase.currency)) {
    Invalid("/currency", "currency " + in.purchase.currency + " is not accepted by the program");
  }
  in.purchase.total_minor = r.RequiredInt("total_minor", 0, kMaxMinor);
  __int128 lines_total = 0;
  if (const auto* items = r.Optional("items")) {
    if (!items->is_array()) Invalid("/items", "items must be an array");
    if (items->size() > 500) Invalid("/items", "at most 500 items");
    for (size_t i = 0; i < items->size(); ++i) {
      const std::string prefix = "/items/" + std::to_string(i);
      JsonObjectReader item((*items)[i], {"sku", "category", "amount_minor", "quantity"}, prefix);
      PurchaseLine line;
      line.sku = item.RequiredString("sku", 1, 64);
      line.category = item.RequiredString("category", 1, 64);
      line.amount_minor = item.RequiredInt("amount_minor", 0, kMaxMinor);
      line.quantity = item.OptionalInt("quantity", 1, 10000).value_or(1);
      lines_total += static_cast<__int128>(line.amount_minor) * line.quantity;
      in.purchase.lines.push_back(std::move(line));
    }
  }
  if (lines_total > in.purchase.total_minor) {
    Invalid("/items", "items add up to more than total_minor");
  }
  return in;
}

RedeemInput ParseRedeem(const nlohmann::json& body) {
  JsonObjectReader r(body, {"points", "reward_id", "channel", "order_id"});
  RedeemInput in;
  in.points = r.RequiredInt("points", 1, kMaxPoints);
  in.reward_id = r.OptionalId("reward_id").value_or("");
  in.channel = r.RequiredEnum("channel", kChannels);
  in.order_id = r.OptionalId("order_id").value_or("");
  return in;
}

HoldInput ParseHold(const nlohmann::json& body, const ProgramRules& rules) {
  JsonObjectReader r(body, {"points", "channel", "store_id", "ttl_seconds"});
  HoldInput in;
  in.points = r.RequiredInt("points", 1, kMaxPoints);
  in.channel = r.RequiredEnum("channel", kChannels);
  in.store_id = r.OptionalId("store_id").value_or("");
  in.ttl_seconds = static_cast<int>(r.RequiredInt("ttl_seconds", 1, rules.max_hold_ttl_seconds));
  return in;
}

std::variant<RefundInput, CancelRedemptionInput> ParseReversal(const nlohmann::json& body) {
  JsonObjectReader r(body, {"order_id", "refund_minor", "redemption_id", "reason"});
  const bool refund = r.Optional("order_id") != nullptr;
  const bool cancel = r.Optional("redemption_id") != nullptr;
  if (refund == cancel) {
    Invalid("/", "send either {order_id, refund_minor, reason} or {redemption_id, reason}");
  }
  const std::string reason = r.RequiredString("reason", 1, 256);
  if (refund) {
    RefundInput in;
    in.order_id = r.RequiredId("order_id");
    in.refund_minor = r.RequiredInt("refund_minor", 1, kMaxMinor);
    in.reason = reason;
    return in;
  }
  if (r.Optional("refund_minor")) Invalid("/refund_minor", "refund_minor applies to order refunds only");
  return CancelRedemptionInput{r.RequiredId("redemption_id"), reason};
}

AdjustInput ParseAdjust(const nlohmann::json& body) {
  JsonObjectReader r(body, {"points", "reason_code", "note", "agent_id"});
  AdjustInput in;
  in.points = r.RequiredInt("points", -kMaxPoints, kMaxPoints);
  if (in.points == 0) Invalid("/points", "points must not be 0");
  in.reason_code = r.RequiredEnum("reason_code", {"goodwill", "service_recovery", "correction", "missing_points",
                                                  "fraud_correction", "other"});
  in.note = r.RequiredString("note", 1, 1000);
  in.agent_id = r.RequiredId("agent_id");
  return in;
}

}  // namespace tessera::rewards
