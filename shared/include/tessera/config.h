// Configuration from environment variables (SPEC §2), parsed once at start into typed structs.
// Any invalid value throws ConfigError naming the variable; mains turn that into exit(2).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tessera/logging.h"

namespace tessera {

// Where variables come from: the process environment in production, a map in tests.
using EnvSource = std::function<std::optional<std::string>(const std::string& name)>;
EnvSource ProcessEnv();

// Typed reads of single variables. Each throws ConfigError("NAME: why") on a bad value.
class EnvReader {
 public:
  explicit EnvReader(EnvSource source) : source_(std::move(source)) {}
  std::optional<std::string> Raw(const std::string& name) const { return source_(name); }
  std::string String(const std::string& name, const std::string& fallback) const;
  std::string RequiredString(const std::string& name) const;
  int64_t Int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
  bool Bool(const std::string& name, bool fallback) const;
  // The value of NAME, or the contents of the file named by NAME_FILE (trailing newline
  // stripped), or nullopt when neither is set.
  std::optional<std::string> Secret(const std::string& name) const;

 private:
  EnvSource source_;
};

struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string socket_path;  // set for unix:// URLs; host and port are then unused
  std::string password;
  int db = 0;
  // "host:port" or "unix:/path", for logs and error messages (never the password).
  std::string Endpoint() const;
};
// redis://[:password@]host[:port][/db], or unix://[:password@]/path/to/redis.sock[?db=N] for a
// Redis on the same host (its Unix socket costs both sides less per round trip than loopback
// TCP). Throws ConfigError on anything else.
RedisUrl ParseRedisUrl(const std::string& url);

struct ServiceConfig {
  std::string service;        // "rewards" | "offers" | "notifications"
  std::string instance_id;    // TESSERA_INSTANCE_ID, default "<hostname>-<pid>"
  int http_port = 0;          // TESSERA_HTTP_PORT (0 = any free port)
  int http_threads = 4;       // TESSERA_HTTP_THREADS
  int64_t max_body_bytes = 64 * 1024;  // SPEC §3; larger bodies get 413
  int64_t http_idle_timeout_ms = 75000;     // TESSERA_HTTP_IDLE_TIMEOUT_MS
  int64_t http_request_timeout_ms = 30000;  // TESSERA_HTTP_REQUEST_TIMEOUT_MS
  int64_t drain_timeout_ms = 10000;    // TESSERA_DRAIN_TIMEOUT_MS
  std::string redis_url_text;          // TESSERA_REDIS_URL
  RedisUrl redis;
  int redis_pool_size = 10;            // TESSERA_REDIS_POOL_SIZE, default threads + workers + 4
  int64_t redis_timeout_ms = 1000;     // TESSERA_REDIS_TIMEOUT_MS
  std::string kafka_brokers;           // TESSERA_KAFKA_BROKERS
  std::string kafka_group;             // TESSERA_KAFKA_GROUP, default "tessera-<service>"
  int kafka_consumer_workers = 4;      // TESSERA_KAFKA_CONSUMER_WORKERS: handler threads per consumer
  int kafka_linger_ms = 20;            // TESSERA_KAFKA_LINGER_MS: the producer's linger.ms (0-1000)
  bool outbox_relay = true;            // TESSERA_OUTBOX_RELAY
  int outbox_linger_ms = 5;            // TESSERA_OUTBOX_LINGER_MS: OutboxRelayOptions::linger (0-1000)
  // TESSERA_IDEMPOTENCY_RECORDS: "string" (default) or "hash", the format idempotency records
  // are written in (IdempotencyOptions::write_hash; both are read).
  bool idempotency_records_as_hash = false;
  std::string api_keys_file;           // TESSERA_API_KEYS_FILE (required)
  std::string jwt_secret;              // TESSERA_JWT_SECRET or TESSERA_JWT_SECRET_FILE (required)
  std::string program_file;            // TESSERA_PROGRAM_FILE (used by rewards)
  LogLevel log_level = LogLevel::kInfo;  // TESSERA_LOG_LEVEL
};

// Reads every variable above. `default_port` is the service's port of SPEC §2.
ServiceConfig LoadServiceConfig(const std::string& service, int default_port, const EnvReader& env);

}  // namespace tessera
