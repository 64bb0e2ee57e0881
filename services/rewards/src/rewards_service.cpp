#include "rewards_service.h"

#include "consumers.h"
#include "http_routes.h"
#include "program.h"
#include "redis_account_store.h"
#include "rewards_app.h"
#include "sweep.h"
#include "tessera/errors.h"
#include "tessera/events.h"

namespace tessera::rewards {

void Wire(ServiceRuntime& rt) {
  if (rt.config().program_file.empty()) {
    throw ConfigError("TESSERA_PROGRAM_FILE: required by tessera-rewards (e.g. config/program.json)");
  }
  const ProgramRules& rules = rt.Make<ProgramRules>(LoadProgramFile(rt.config().program_file));
  // One pipelined connection carries the commits of the asynchronous routes (RedeemAsync);
  // without it (TESSERA_REDIS_PIPELINE=false) they commit through the pool on the server's thread.
  RedisPipeline* pipeline = nullptr;
  if (EnvReader(ProcessEnv()).Bool("TESSERA_REDIS_PIPELINE", true)) {
    pipeline = &rt.Make<RedisPipeline>(
        rt.redis().options(), &rt.metrics().GetHistogram("tessera_redis_pipeline_batch_commands",
                                                         "Commands written to Redis in one pipelined batch", {},
                                                         RedisPipeline::BatchSizeBuckets()));
  }
  auto& store = rt.Make<RedisAccountStore>(rt.redis(), rt.idempotency().options(), pipeline);
  const auto cache_entries = static_cast<size_t>(
      EnvReader(ProcessEnv()).Int("TESSERA_MEMBER_CACHE_ENTRIES", 100'000, 0, 100'000'000));
  auto& app = rt.Make<RewardsApp>(store, rules, rt.clock(), rt.logger(), cache_entries);
  RegisterRoutes(rt.http(), app, rt.clock());

  auto& consumers = rt.Make<RewardsConsumers>(app, rt.clock(), rt.logger(), rt.metrics());
  rt.AddConsumer({topics::kPurchases, topics::kOffers}, [&consumers](const ConsumedMessage& m) {
    if (m.topic == topics::kPurchases) consumers.HandlePurchase(m);
    else consumers.HandleOffer(m);
  });

  SweepOptions so;
  so.owner = rt.config().instance_id;
  so.interval = std::chrono::milliseconds(EnvReader(ProcessEnv()).Int("TESSERA_SWEEP_INTERVAL_MS", 1000, 50, 3'600'000));
  auto& sweep = rt.Make<Sweep>(app, store, rt.clock(), so, rt.logger(), rt.metrics());
  rt.AddBackgroundTask("expiry-sweep", [&sweep](std::stop_token st) { sweep.Run(st); });
  rt.logger().Info("program loaded", {{"program_id", rules.program_id}, {"tiers", rules.tiers.size()}});
}

ServiceDefinition Definition() {
  ServiceDefinition d;
  d.name = "rewards";
  d.default_port = kDefaultPort;
  d.wire = Wire;
  return d;
}

}  // namespace tessera::rewards
