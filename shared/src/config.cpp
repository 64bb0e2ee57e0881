#include "tessera/config.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tessera/errors.h"

namespace tessera {

EnvSource ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string EnvReader::String(const std::string& name, const std::string& fallback) const {
  auto v = source_(name);
  return v && !v->empty() ? *v : fallback;
}

std::string EnvReader::RequiredString(const std::string& name) const {
  auto v = source_(name);
  if (!v || v->empty()) throw ConfigError(name + ": required but not set");
  return *v;
}

int64_t EnvReader::Int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const {
  auto v = source_(name);
  if (!v || v->empty()) return fallback;
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(v->c_str(), &end, 10);
  if (errno != 0 || end == v->c_str() || *end != '\0') {
    throw ConfigError(name + ": '" + *v + "' is not an integer");
  }
  if (parsed < min || parsed > max) {
    throw ConfigError(name + ": " + *v + " is outside " + std::to_string(min) + ".." +
                      std::to_string(max));
  }
  return parsed;
}

bool EnvReader::Bool(const std::string& name, bool fallback) const {
  auto v = source_(name);
  if (!v || v->empty()) return fallback;
  if (*v == "1" || *v == "true" || *v == "yes" || *v == "on") return true;
  if (*v == "0" || *v == "false" || *v == "no" || *v == "off") return false;
  throw ConfigError(name + ": '" + *v + "' is not a boolean (true/false)");
}

std::optional<std::string> EnvReader::Secret(const std::string& name) const {
  if (auto v = source_(name); v && !v->empty()) return v;
  auto file = source_(name + "_FILE");
  if (!file || file->empty()) return std::nullopt;
  std::ifstream in(*file);
  if (!in) throw ConfigError(name + "_FILE: cannot read '" + *file + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty()) throw ConfigError(name + "_FILE: '" + *file + "' is empty");
  return s;
}

std::string RedisUrl::Endpoint() const {
  return socket_path.empty() ? host + ":" + std::to_string(port) : "unix:" + socket_path;
}

RedisUrl ParseRedisUrl(const std::string& url) {
  const std::string scheme = "redis://";
  const std::string unix_scheme = "unix://";
  auto fail = [&](const std::string& why) {
    return ConfigError("TESSERA_REDIS_URL: '" + url + "' " + why +
                       " (expected redis://[:password@]host[:port][/db] or "
                       "unix://[:password@]/path/to/redis.sock[?db=N])");
  };
  const bool is_unix = url.rfind(unix_scheme, 0) == 0;
  if (!is_unix && url.rfind(scheme, 0) != 0) throw fail("does not start with redis:// or unix://");
  std::string rest = url.substr(is_unix ? unix_scheme.size() : scheme.size());
  RedisUrl out;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    if (!auth.empty() && auth[0] == ':') auth = auth.substr(1);
    out.password = auth;
    rest = rest.substr(at + 1);
  }
  auto parse_db = [&](const std::string& db) {
    if (db.empty()) return;
    if (db.find_first_not_of("0123456789") != std::string::npos || db.size() > 2) {
      throw fail("has an invalid database number");
    }
    out.db = std::stoi(db);
  };
  if (is_unix) {
    std::string path = rest;
    if (auto q = rest.find('?'); q != std::string::npos) {
      path = rest.substr(0, q);
      const std::string query = rest.substr(q + 1);
      if (query.rfind("db=", 0) != 0) throw fail("has a query other than ?db=N");
      parse_db(query.substr(3));
    }
    if (path.empty() || path[0] != '/') throw fail("has no absolute socket path");
    out.socket_path = path;
    return out;
  }
  std::string hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    hostport = rest.substr(0, slash);
    parse_db(rest.substr(slash + 1));
  }
  if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    std::string port = hostport.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
        port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) {
      throw fail("has an invalid port");
    }
    out.port = std::stoi(port);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) throw fail("has no host");
  out.host = hostport;
  return out;
}

ServiceConfig LoadServiceConfig(const std::string& service, int default_port,
                                const EnvReader& env) {
  ServiceConfig c;
  c.service = service;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  c.instance_id = env.String("TESSERA_INSTANCE_ID", std::string(host) + "-" + std::to_string(getpid()));
  c.http_port = static_cast<int>(env.Int("TESSERA_HTTP_PORT", default_port, 0, 65535));
  c.http_threads = static_cast<int>(env.Int("TESSERA_HTTP_THREADS", 4, 1, 256));
  c.http_idle_timeout_ms = env.Int("TESSERA_HTTP_IDLE_TIMEOUT_MS", 75000, 100, 3600000);
  c.http_request_timeout_ms = env.Int("TESSERA_HTTP_REQUEST_TIMEOUT_MS", 30000, 100, 3600000);
  c.drain_timeout_ms = env.Int("TESSERA_DRAIN_TIMEOUT_MS", 10000, 0, 600000);
  c.redis_url_text = env.String("TESSERA_REDIS_URL", "redis://127.0.0.1:6379/0");
  c.redis = ParseRedisUrl(c.redis_url_text);
  c.kafka_consumer_workers = static_cast<int>(env.Int("TESSERA_KAFKA_CONSUMER_WORKERS", 4, 1, 64));
  c.redis_pool_size = static_cast<int>(
      env.Int("TESSERA_REDIS_POOL_SIZE", c.http_threads + c.kafka_consumer_workers + 4, 1, 1024));
  c.redis_timeout_ms = env.Int("TESSERA_REDIS_TIMEOUT_MS", 1000, 10, 60000);
  c.kafka_brokers = env.String("TESSERA_KAFKA_BROKERS", "127.0.0.1:9092");
  c.kafka_group = env.String("TESSERA_KAFKA_GROUP", "tessera-" + service);
  c.kafka_linger_ms = static_cast<int>(env.Int("TESSERA_KAFKA_LINGER_MS", 20, 0, 1000));
  c.outbox_relay = env.Bool("TESSERA_OUTBOX_RELAY", true);
  c.outbox_linger_ms = static_cast<int>(env.Int("TESSERA_OUTBOX_LINGER_MS", 5, 0, 1000));
  const std::string records = env.String("TESSERA_IDEMPOTENCY_RECORDS", "string");
  if (records != "string" && records != "hash") {
    throw ConfigError("TESSERA_IDEMPOTENCY_RECORDS: '" + records + "' is not one of string, hash");
  }
  c.idempotency_records_as_hash = records == "hash";
  c.api_keys_file = env.RequiredString("TESSERA_API_KEYS_FILE");
  auto secret = env.Secret("TESSERA_JWT_SECRET");
  if (!secret) throw ConfigError("TESSERA_JWT_SECRET: required but not set (or TESSERA_JWT_SECRET_FILE)");
  c.jwt_secret = *secret;
  c.program_file = env.String("TESSERA_PROGRAM_FILE", "");
  const std::string level = env.String("TESSERA_LOG_LEVEL", "info");
  auto parsed = ParseLogLevel(level);
  if (!parsed) throw ConfigError("TESSERA_LOG_LEVEL: '" + level + "' is not one of debug, info, warn, error");
  c.log_level = *parsed;
  return c;
}

}  // namespace tessera
