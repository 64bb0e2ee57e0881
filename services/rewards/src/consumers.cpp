#include "consumers.h"

#include "requests.h"
#include "tessera/clock.h"
#include "tessera/errors.h"
#include "tessera/events.h"
#include "tessera/http_types.h"
#include "tessera/idempotency.h"

namespace tessera::rewards {

namespace {
EventEnvelope ParseEnvelope(const ConsumedMessage& m) {
  nlohmann::json j = nlohmann::json::parse(m.value, nullptr, false);
  std::string error;
  auto e = EventEnvelope::FromJson(j, &error);
  if (!e) throw PoisonMessage(error);
  return *e;
}

// EventEnvelope::FromJson has checked the id's form; these events must carry one.
void RequireMember(const EventEnvelope& e) {
  if (!e.member_id) throw PoisonMessage("envelope.member_id must be a member id");
}

RequestContext EventContext(const EventEnvelope& e, const std::string& key) {
  RequestContext ctx;
  ctx.member_id = *e.member_id;
  ctx.channel = e.channel.empty() ? "system" : e.channel;
  ctx.correlation_id = e.correlation_id.empty() ? e.event_id : e.correlation_id;
  ctx.causation_id = e.event_id;
  ctx.idempotency_key = key;
  ctx.request_hash = IdempotencyStore::RequestHash("EVENT", e.type, e.payload.dump());
  return ctx;
}
}  // namespace

RewardsConsumers::RewardsConsumers(RewardsApp& app, const Clock& clock, Logger& logger, MetricsRegistry& metrics)
    : app_(app),
      clock_(clock),
      logger_(logger),
      duplicates_(metrics.GetCounter("tessera_rewards_duplicate_events_total",
                                     "Consumed events that had already been applied")) {}

void RewardsConsumers::Check(const Reply& reply, const std::string& what) {
  if (reply.replayed || reply.status == 409 || (reply.status == 422 && reply.body.find("idempotency_key_reused") != std::string::npos)) {
    duplicates_.Inc();  // already applied (possibly through the HTTP API): nothing to do
    return;
  }
  if (reply.IsProblem()) throw PoisonMessage(what + " refused: " + reply.body);
}

void RewardsConsumers::HandlePurchase(const ConsumedMessage& m) {
  const EventEnvelope e = ParseEnvelope(m);
  if (e.type != "purchase.completed" && e.type != "purchase.refunded") {
    logger_.Debug("ignored purchase event type", {{"type", e.type}});
    return;
  }
  RequireMember(e);
  try {
    if (e.type == "purchase.completed") {
      EarnInput in = ParseEarn(e.payload, app_.rules(), clock_.Now());
      Check(app_.Earn(in, EventContext(e, "order:" + in.purchase.order_id)), "earn for " + in.purchase.order_id);
    } else if (e.type == "purchase.refunded") {
      JsonObjectReader r(e.payload, {"order_id", "refund_minor", "reason", "refund_id", "channel", "store_id"});
      RefundInput in{r.RequiredId("order_id"), r.RequiredInt("refund_minor", 1, 1'000'000'000'000),
                     r.OptionalString("reason", 1, 256).value_or("refund")};
      Check(app_.ReverseRefund(in, EventContext(e, "event:" + e.event_id)), "reversal for " + in.order_id);
    }
  } catch (const ProblemError& p) {
    throw PoisonMessage(e.type + " payload invalid: " + p.problem().detail +
                        (p.problem().field.empty() ? "" : " (" + p.problem().field + ")"));
  }
}

void RewardsConsumers::HandleOffer(const ConsumedMessage& m) {
  const EventEnvelope e = ParseEnvelope(m);
  if (e.type != "offer.redeemed") return;  // campaign and activation events are not for rewards
  RequireMember(e);
  const auto& reward = e.payload.value("reward", nlohmann::json::object());
  if (!reward.is_object() || reward.value("type", "") != "bonus_points") return;
  if (!reward.contains("points") || !reward["points"].is_number_integer() || reward["points"].get<int64_t>() <= 0 ||
      reward["points"].get<int64_t>() > 1'000'000'000) {
    throw PoisonMessage("offer.redeemed reward.points must be a positive integer");
  }
  const std::string campaign = e.payload.value("campaign_id", "");
  const std::string order = e.payload.value("order_id", e.event_id);
  BonusInput in;
  in.order_key = "offer:" + campaign + ":" + order;
  in.points = reward["points"];
  in.channel = e.channel.empty() ? "system" : e.channel;
  in.occurred_ms = ToUnixMillis(*ParseRfc3339(e.occurred_at));  // FromJson checked it
  in.details = {{"campaign_id", campaign}, {"offer_id", e.payload.value("offer_id", "")}, {"source", "offer"}};
  Check(app_.Bonus(in, EventContext(e, "event:" + e.event_id)), "bonus for " + in.order_key);
}

}  // namespace tessera::rewards
