// Kafka consumers of tessera-rewards (SPEC §4):
//   tessera.purchases.v1  purchase.completed -> earn (natural key: order_id)
//                         purchase.refunded  -> reversal (key: event_id)
//   tessera.offers.v1     offer.redeemed with a bonus_points reward -> bonus earn (key: event_id)
// A message that can never apply (malformed, unknown member, refused by the rules) throws
// PoisonMessage and goes to the dead-letter topic with the reason; a duplicate is a no-op.
#pragma once

#include "rewards_app.h"
#include "tessera/kafka.h"
#include "tessera/metrics.h"

namespace tessera::rewards {

class RewardsConsumers {
 public:
  RewardsConsumers(RewardsApp& app, const Clock& clock, Logger& logger, MetricsRegistry& metrics);
  void HandlePurchase(const ConsumedMessage& message);
  void HandleOffer(const ConsumedMessage& message);

 private:
  void Check(const Reply& reply, const std::string& what);
  RewardsApp& app_;
  const Clock& clock_;
  Logger& logger_;
  Counter& duplicates_;
};

}  // namespace tessera::rewards
