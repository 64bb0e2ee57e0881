#include "tessera/service_runtime.h"

#include <signal.h>

#include <iostream>
#include <mutex>

#include "tessera/keys.h"
#include "tessera/thread_name.h"

namespace tessera {

ServiceRuntime::ServiceRuntime(ServiceConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      logger_("tessera-" + config_.service, config_.log_level, std::cerr, clock_) {
  auth_ = std::make_unique<Authenticator>(Authenticator::FromFile(config_.api_keys_file, config_.jwt_secret, clock_));
  RedisOptions ro;
  ro.url = config_.redis;
  ro.pool_size = config_.redis_pool_size;
  ro.command_timeout = std::chrono::milliseconds(config_.redis_timeout_ms);
  ro.connect_timeout = std::chrono::milliseconds(config_.redis_timeout_ms);
  redis_ = std::make_unique<RedisPool>(ro);
  KafkaProducerOptions po = OutboxProducerOptions(config_.kafka_brokers, "tessera-" + config_.service);
  po.linger_ms = config_.kafka_linger_ms;
  producer_ = std::make_unique<KafkaProducer>(po, logger_, metrics_);
  IdempotencyOptions io;
  io.write_hash = config_.idempotency_records_as_hash;
  idempotency_ = std::make_unique<IdempotencyStore>(*redis_, io);
  if (config_.outbox_relay) {
    OutboxRelayOptions oo;
    oo.streams = OutboxStreams(config_.service);
    oo.owner = config_.instance_id;
    oo.registry = OutboxRelayRegistry(config_.service);
    oo.linger = std::chrono::milliseconds(config_.outbox_linger_ms);
    relay_ = std::make_unique<OutboxRelay>(*redis_, *producer_, oo, logger_, metrics_);
  }
  HttpServerOptions ho;
  ho.service = config_.service;
  ho.port = config_.http_port;
  ho.threads = config_.http_threads;
  ho.max_body_bytes = config_.max_body_bytes;
  ho.idle_timeout = std::chrono::milliseconds(config_.http_idle_timeout_ms);
  ho.request_timeout = std::chrono::milliseconds(config_.http_request_timeout_ms);
  ho.drain_timeout = std::chrono::milliseconds(config_.drain_timeout_ms);
  http_ = std::make_unique<HttpServer>(ho, *auth_, metrics_, logger_);

  struct KafkaProbe {
    std::mutex mu;
    std::chrono::steady_clock::time_point checked{};
    bool ok = false;
  };
  auto probe = std::make_shared<KafkaProbe>();
  http_->SetReadinessCheck([this, probe]() -> std::optional<std::string> {
    if (!redis_->Ping()) return "redis unreachable";
    std::lock_guard lock(probe->mu);
    const auto now = std::chrono::steady_clock::now();
    if (now - probe->checked > std::chrono::seconds(2) || !probe->ok) {
      probe->ok = producer_->Reachable(std::chrono::milliseconds(1000));
      probe->checked = now;
    }
    if (!probe->ok) return "kafka unreachable";
    return std::nullopt;
  });
}

ServiceRuntime::~ServiceRuntime() {
  Stop();
  // Newest first: what was made later may use what was made before it (an app its store, the
  // store its Redis pipeline).
  while (!owned_.empty()) owned_.pop_back();
}

void ServiceRuntime::AddConsumer(std::vector<std::string> topics, MessageHandler handler) {
  KafkaConsumerOptions co;
  co.brokers = config_.kafka_brokers;
  co.group_id = config_.kafka_group;
  co.client_id = "tessera-" + config_.service + "-" + config_.instance_id;
  co.topics = std::move(topics);
  co.workers = config_.kafka_consumer_workers;
  consumers_.push_back(std::make_unique<KafkaConsumer>(co, std::move(handler), *producer_, logger_, metrics_));
}

void ServiceRuntime::AddBackgroundTask(std::string name, std::function<void(std::stop_token)> task) {
  tasks_.emplace_back(std::move(name), std::move(task));
}

void ServiceRuntime::Start() {
  if (relay_) relay_->Start();
  for (auto& c : consumers_) c->Start();
  for (auto& [name, task] : tasks_) {
    task_threads_.emplace_back([this, name = name, task = task](std::stop_token st) {
      NameThisThread(name);
      try {
        task(st);
      } catch (const std::exception& e) {
        logger_.Error("background task ended with an error", {{"task", name}, {"error", e.what()}});
      }
    });
  }
  http_->Start();
  logger_.Info("service started", {{"port", http_->port()},
                                   {"redis", config_.redis.Endpoint()},
                                   {"kafka", config_.kafka_brokers},
                                   {"instance", config_.instance_id}});
}

void ServiceRuntime::Stop() {
  if (stopped_) return;
  stopped_ = true;
  logger_.Info("service stopping");
  http_->Shutdown();
  for (auto& t : task_threads_) t.request_stop();
  task_threads_.clear();  // joins
  for (auto& c : consumers_) c->Stop();
  // The relay's Stop flushes the shared producer (dead letters included) for up to 10 s; what
  // Kafka has not taken by then stays in the outbox for the next relay.
  if (relay_) relay_->Stop(std::chrono::seconds(10));
  else producer_->Flush(std::chrono::seconds(10));
  logger_.Info("service stopped");
}

int RunService(const ServiceDefinition& definition) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every thread started later inherits this
  signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  std::unique_ptr<ServiceRuntime> runtime;
  try {
    ServiceConfig config = LoadServiceConfig(definition.name, definition.default_port, EnvReader(ProcessEnv()));
    runtime = std::make_unique<ServiceRuntime>(std::move(config), clock);
    if (definition.wire) definition.wire(*runtime);
    runtime->Start();
  } catch (const ConfigError& e) {
    std::cerr << "tessera-" << definition.name << ": invalid configuration: " << e.what() << std::endl;
    return 2;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  runtime->logger().Info("signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  runtime->Stop();
  return 0;
}

}  // namespace tessera
