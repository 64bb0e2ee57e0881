#include "offers_service.h"

#include <thread>

#include "campaign_cache.h"
#include "http_routes.h"
#include "offers_app.h"
#include "offers_store.h"
#include "stats.h"
#include "tessera/errors.h"
#include "tessera/events.h"

namespace tessera::offers {

namespace {
nlohmann::json ParseEvent(const ConsumedMessage& m) {
  auto j = nlohmann::json::parse(m.value, nullptr, false);
  std::string error;
  if (!EventEnvelope::FromJson(j, &error)) throw PoisonMessage(error);
  return j;
}
}  // namespace

void Wire(ServiceRuntime& rt) {
  EnvReader env(ProcessEnv());
  auto secret = env.Secret("TESSERA_QUOTE_SECRET");
  if (!secret) throw ConfigError("TESSERA_QUOTE_SECRET: required by tessera-offers (or TESSERA_QUOTE_SECRET_FILE)");
  const auto quote_ttl = std::chrono::seconds(env.Int("TESSERA_QUOTE_TTL_SECONDS", 900, 10, 86400));

  auto& store = rt.Make<OffersStore>(rt.redis());
  auto& cache = rt.Make<CampaignCache>(store, rt.logger());
  auto& stats = rt.Make<StatsAggregator>(store, rt.logger());
  auto& app = rt.Make<OffersApp>(store, cache, stats, rt.idempotency(), rt.clock(), rt.logger(), *secret, quote_ttl);
  RegisterRoutes(rt.http(), app);

  rt.AddConsumer({topics::kLedger, topics::kPurchases}, [&app](const ConsumedMessage& m) {
    const auto e = ParseEvent(m);
    try {
      if (m.topic == topics::kLedger) {
        if (e.contains("member_seq") && e.contains("member_id") && e["member_id"].is_string()) app.ApplyLedgerEvent(e);
      } else if (e.contains("member_id") && e["member_id"].is_string()) {
        app.ApplyPurchaseEvent(e);
      }
    } catch (const nlohmann::json::exception& ex) {
      throw PoisonMessage(std::string("unexpected event shape: ") + ex.what());
    }
  });

  // Campaign changes made by any replica reach every replica's cache.
  auto& tail = rt.Make<KafkaTopicTail>(rt.config().kafka_brokers, std::vector<std::string>{topics::kOffers},
                                       [&cache](const ConsumedMessage& m) {
                                         if (m.value.find("\"campaign.") != std::string::npos) cache.Reload();
                                       },
                                       rt.logger());
  rt.AddBackgroundTask("campaign-cache", [&cache, &tail, &rt](std::stop_token st) {
    tail.Start();
    while (!st.stop_requested()) {
      try {
        cache.Reload();
      } catch (const std::exception& e) {
        rt.logger().Warn("campaign cache reload failed", {{"error", e.what()}});
      }
      for (int i = 0; i < 1500 && !st.stop_requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    tail.Stop();
  });
  rt.AddBackgroundTask("campaign-stats", [&stats](std::stop_token st) { stats.Run(st); });
  try {
    cache.Reload();
  } catch (const std::exception& e) {
    rt.logger().Warn("campaign cache not loaded at start; will retry", {{"error", e.what()}});
  }
}

ServiceDefinition Definition() {
  ServiceDefinition d;
  d.name = "offers";
  d.default_port = kDefaultPort;
  d.wire = Wire;
  return d;
}

}  // namespace tessera::offers
