#include "offers_service.h"

#include <thread>

#include "campaign_cache.h"
#include "http_routes.h"
#include "offers_app.h"
#include "offers_store.h"
#include "listing_cache.h"
#include "stats.h"
#include "tessera/errors.h"
#include "tessera/events.h"
#include "tessera/keys.h"
#include "tessera/redis_tracking.h"

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

  auto& store = rt.Make<OffersStore>(rt.redis(), rt.idempotency().options().write_hash);
  auto& cache = rt.Make<CampaignCache>(store, rt.logger());
  auto& unreadable = rt.metrics().GetGauge("tessera_offers_unreadable_campaigns",
                                           "Stored campaigns the last reload could not read (not served)");
  rt.metrics().AddCollector([&cache, &unreadable] { unreadable.Set(static_cast<double>(cache.unreadable())); });
  auto& stats = rt.Make<StatsAggregator>(store, rt.logger());
  auto& app = rt.Make<OffersApp>(store, cache, stats, rt.idempotency(), rt.clock(), rt.logger(), *secret, quote_ttl);
  RegisterRoutes(rt.http(), app);

  // The listing cache (docs/offers.md): kept true by Redis broadcasting every change of a
  // member's cached keys to this replica; off with TESSERA_OFFERS_LISTING_CACHE_MB=0.
  const int64_t cache_mb = env.Int("TESSERA_OFFERS_LISTING_CACHE_MB", 256, 0, 1 << 20);
  if (cache_mb > 0) {
    auto& listings = rt.Make<ListingCache>(static_cast<size_t>(cache_mb) << 20);
    auto& invalidations = rt.Make<RedisInvalidations>(
        rt.redis().options(), CachedMemberKeyPrefixes(),
        RedisInvalidations::Handlers{[&listings](std::string_view key) {
                                       const std::string member = MemberOfCachedKey(key);
                                       if (!member.empty()) listings.Invalidate(member);
                                     },
                                     [&listings] { listings.Clear(); }},
        rt.logger());
    app.UseListingCache(&listings, [&invalidations] { return invalidations.Sync(); });
    rt.AddBackgroundTask("listing-invalidations", [&invalidations](std::stop_token st) { invalidations.Run(st); });
    auto& hits = rt.metrics().GetCounter("tessera_offers_listing_cache_hits_total", "offers lists answered from memory");
    auto& misses = rt.metrics().GetCounter("tessera_offers_listing_cache_misses_total", "offers lists ranked afresh");
    auto& bytes = rt.metrics().GetGauge("tessera_offers_listing_cache_bytes", "memory held by the listing cache");
    auto& live = rt.metrics().GetGauge("tessera_offers_listing_cache_live",
                                       "1 while Redis invalidations are subscribed (the cache is in use)");
    rt.metrics().AddCollector([&, last_hits = std::make_shared<uint64_t>(0), last_misses = std::make_shared<uint64_t>(0)] {
      const uint64_t h = listings.hits(), m = listings.misses();
      hits.Inc(static_cast<double>(h - *last_hits));
      misses.Inc(static_cast<double>(m - *last_misses));
      *last_hits = h;
      *last_misses = m;
      bytes.Set(static_cast<double>(listings.bytes()));
      live.Set(invalidations.Sync() ? 1 : 0);
    });
  }

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
