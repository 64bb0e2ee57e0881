// Wiring shared by every service binary: configuration, logging, metrics, the Redis pool, the
// Kafka producer, the outbox relay, consumers, background tasks and the HTTP server, started in
// order and stopped in reverse on SIGTERM/SIGINT:
//   fail readiness -> drain HTTP -> stop background tasks -> stop consumers (commit, leave
//   group) -> stop the relay (deliver what is in flight) -> flush the producer -> exit 0.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "tessera/auth.h"
#include "tessera/clock.h"
#include "tessera/config.h"
#include "tessera/http_server.h"
#include "tessera/idempotency.h"
#include "tessera/kafka.h"
#include "tessera/logging.h"
#include "tessera/metrics.h"
#include "tessera/outbox.h"
#include "tessera/redis.h"

namespace tessera {

class ServiceRuntime {
 public:
  // Builds every component from `config`. Throws ConfigError (bad key file, bad Kafka
  // property). Connects lazily: a missing Redis or Kafka shows in /readyz, not as a crash.
  ServiceRuntime(ServiceConfig config, const Clock& clock);
  ~ServiceRuntime();

  const ServiceConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  Logger& logger() { return logger_; }
  MetricsRegistry& metrics() { return metrics_; }
  RedisPool& redis() { return *redis_; }
  KafkaProducer& producer() { return *producer_; }
  HttpServer& http() { return *http_; }
  IdempotencyStore& idempotency() { return *idempotency_; }
  const Authenticator& auth() const { return *auth_; }

  // Before Start(): a consumer in the service's group on `topics`.
  void AddConsumer(std::vector<std::string> topics, MessageHandler handler);
  // Before Start(): a loop run on its own thread until stop is requested.
  void AddBackgroundTask(std::string name, std::function<void(std::stop_token)> task);

  void Start();
  void Stop();

  // Constructs an object owned by the runtime: it lives until the runtime is destroyed, after
  // consumers and background tasks have stopped (so they may refer to it); objects are destroyed
  // newest first.
  template <typename T, typename... Args>
  T& Make(Args&&... args) {
    auto p = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *p;
    owned_.push_back(std::move(p));
    return ref;
  }

 private:
  ServiceConfig config_;
  const Clock& clock_;
  Logger logger_;
  MetricsRegistry metrics_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<RedisPool> redis_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<IdempotencyStore> idempotency_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<HttpServer> http_;
  std::vector<std::shared_ptr<void>> owned_;  // destroyed after everything declared below
  std::vector<std::unique_ptr<KafkaConsumer>> consumers_;
  std::vector<std::pair<std::string, std::function<void(std::stop_token)>>> tasks_;
  std::vector<std::jthread> task_threads_;
  bool stopped_ = false;
};

// A service's identity and wiring, for RunService.
struct ServiceDefinition {
  std::string name;   // "rewards"
  int default_port;   // SPEC §2
  // Registers routes, consumers and background tasks on the runtime. May throw ConfigError.
  std::function<void(ServiceRuntime&)> wire;
};

// The whole life of a service process: blocks SIGTERM/SIGINT, loads the config from the
// environment, wires, starts, waits for a signal and stops gracefully. Returns the exit code
// (0 after a clean stop, 2 for invalid configuration, with the reason on stderr).
int RunService(const ServiceDefinition& definition);

}  // namespace tessera
