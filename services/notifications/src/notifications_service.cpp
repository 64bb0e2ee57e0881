#include "notifications_service.h"

#include "http_routes.h"
#include "notification_store.h"
#include "notifications_app.h"
#include "provider.h"
#include "tessera/errors.h"
#include "tessera/events.h"

namespace tessera::notifications {

void Wire(ServiceRuntime& rt) {
  EnvReader env(ProcessEnv());
  NotifyOptions o;
  o.marketing_daily_cap = static_cast<int>(env.Int("TESSERA_MARKETING_DAILY_CAP", 3, 0, 100));
  o.max_attempts = static_cast<int>(env.Int("TESSERA_NOTIFY_MAX_ATTEMPTS", 5, 1, 20));
  o.retry_base = std::chrono::milliseconds(env.Int("TESSERA_NOTIFY_RETRY_BASE_MS", 1000, 10, 3'600'000));
  o.owner = rt.config().instance_id;
  o.lease = std::chrono::milliseconds(env.Int("TESSERA_NOTIFY_LEASE_MS", 10000, 100, 600000));
  o.bucket_lease = std::chrono::milliseconds(env.Int("TESSERA_NOTIFY_BUCKET_LEASE_MS", 10000, 100, 600000));
  const std::string provider_url = env.String("TESSERA_PROVIDER_URL", "http://127.0.0.1:8090");
  if (provider_url.rfind("http://", 0) != 0 && provider_url.rfind("https://", 0) != 0) {
    throw ConfigError("TESSERA_PROVIDER_URL: '" + provider_url + "' is not an http(s) URL");
  }
  const auto timeout = std::chrono::milliseconds(env.Int("TESSERA_PROVIDER_TIMEOUT_MS", 2000, 50, 60000));

  auto& store = rt.Make<NotificationStore>(rt.redis());
  auto& provider = rt.Make<HttpProvider>(provider_url, timeout);
  auto& app = rt.Make<NotificationsApp>(store, provider, rt.producer(), rt.clock(), rt.logger(), rt.metrics(), o);
  RegisterRoutes(rt.http(), app);
  rt.AddConsumer({topics::kLedger, topics::kOffers}, [&app](const ConsumedMessage& m) {
    auto j = nlohmann::json::parse(m.value, nullptr, false);
    std::string error;
    if (!EventEnvelope::FromJson(j, &error)) throw PoisonMessage(error);
    try {
      app.HandleEvent(j);
    } catch (const nlohmann::json::exception& e) {
      throw PoisonMessage(std::string("unexpected event shape: ") + e.what());
    }
  });
  rt.AddBackgroundTask("dispatcher", [&app](std::stop_token st) { app.RunDispatcher(st); });
}

ServiceDefinition Definition() {
  ServiceDefinition d;
  d.name = "notifications";
  d.default_port = kDefaultPort;
  d.wire = Wire;
  return d;
}

}  // namespace tessera::notifications
