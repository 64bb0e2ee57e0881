#include "tessera/config.h"

#include <gtest/gtest.h>

#include <map>

#include "tessera/errors.h"

namespace tessera {
namespace {

EnvReader Env(std::map<std::string, std::string> vars) {
  return EnvReader([vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

std::map<std::string, std::string> Minimal() {
  return {{"TESSERA_API_KEYS_FILE", "/keys.json"}, {"TESSERA_JWT_SECRET", "s3cret"}};
}

TEST(ServiceConfig, DefaultsFollowTheSpec) {
  ServiceConfig c = LoadServiceConfig("rewards", 8081, Env(Minimal()));
  EXPECT_EQ(c.http_port, 8081);
  EXPECT_EQ(c.redis.host, "127.0.0.1");
  EXPECT_EQ(c.redis.port, 6379);
  EXPECT_EQ(c.redis.db, 0);
  EXPECT_EQ(c.kafka_group, "tessera-rewards");
  EXPECT_EQ(c.max_body_bytes, 64 * 1024);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_TRUE(c.outbox_relay);
  EXPECT_EQ(c.kafka_consumer_workers, 4);
  EXPECT_EQ(c.kafka_linger_ms, 20);
  EXPECT_EQ(c.outbox_linger_ms, 5);
  EXPECT_FALSE(c.idempotency_records_as_hash);
  EXPECT_EQ(c.http_idle_timeout_ms, 75000);
  EXPECT_EQ(c.http_request_timeout_ms, 30000);
  EXPECT_EQ(c.redis_pool_size, 4 + 4 + 4) << "a connection per HTTP thread and consumer worker, and four more";
}

TEST(ServiceConfig, ReadsEveryVariable) {
  auto vars = Minimal();
  vars["TESSERA_HTTP_PORT"] = "9000";
  vars["TESSERA_HTTP_THREADS"] = "8";
  vars["TESSERA_REDIS_URL"] = "redis://:pw@redis.internal:6380/3";
  vars["TESSERA_KAFKA_BROKERS"] = "k1:9092,k2:9092";
  vars["TESSERA_LOG_LEVEL"] = "debug";
  vars["TESSERA_OUTBOX_RELAY"] = "false";
  vars["TESSERA_KAFKA_CONSUMER_WORKERS"] = "6";
  vars["TESSERA_KAFKA_LINGER_MS"] = "0";
  vars["TESSERA_OUTBOX_LINGER_MS"] = "0";
  vars["TESSERA_IDEMPOTENCY_RECORDS"] = "hash";
  vars["TESSERA_HTTP_IDLE_TIMEOUT_MS"] = "5000";
  vars["TESSERA_HTTP_REQUEST_TIMEOUT_MS"] = "2000";
  ServiceConfig c = LoadServiceConfig("offers", 8082, Env(vars));
  EXPECT_EQ(c.http_idle_timeout_ms, 5000);
  EXPECT_EQ(c.http_request_timeout_ms, 2000);
  EXPECT_EQ(c.http_port, 9000);
  EXPECT_EQ(c.http_threads, 8);
  EXPECT_EQ(c.kafka_consumer_workers, 6);
  EXPECT_EQ(c.kafka_linger_ms, 0);
  EXPECT_EQ(c.outbox_linger_ms, 0);
  EXPECT_TRUE(c.idempotency_records_as_hash);
  EXPECT_EQ(c.redis_pool_size, 8 + 6 + 4);
  EXPECT_EQ(c.redis.host, "redis.internal");
  EXPECT_EQ(c.redis.port, 6380);
  EXPECT_EQ(c.redis.password, "pw");
  EXPECT_EQ(c.redis.db, 3);
  EXPECT_EQ(c.kafka_brokers, "k1:9092,k2:9092");
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_FALSE(c.outbox_relay);
}

TEST(ServiceConfig, RedisOnAUnixSocket) {
  auto vars = Minimal();
  vars["TESSERA_REDIS_URL"] = "unix://:pw@/run/redis/redis.sock?db=2";
  ServiceConfig c = LoadServiceConfig("rewards", 8081, Env(vars));
  EXPECT_EQ(c.redis.socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(c.redis.password, "pw");
  EXPECT_EQ(c.redis.db, 2);
  EXPECT_EQ(c.redis.Endpoint(), "unix:/run/redis/redis.sock");
  EXPECT_EQ(ParseRedisUrl("unix:///tmp/r.sock").db, 0);
  EXPECT_EQ(ParseRedisUrl("redis://h:7000/1").Endpoint(), "h:7000");
}

void ExpectConfigErrorNaming(std::map<std::string, std::string> vars, const std::string& name) {
  try {
    LoadServiceConfig("rewards", 8081, Env(vars));
    FAIL() << "expected ConfigError naming " << name;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(ServiceConfig, InvalidValuesStopWithTheVariableName) {
  auto with = [](std::string k, std::string v) {
    auto m = Minimal();
    m[k] = v;
    return m;
  };
  ExpectConfigErrorNaming(with("TESSERA_HTTP_PORT", "80a"), "TESSERA_HTTP_PORT");
  ExpectConfigErrorNaming(with("TESSERA_HTTP_PORT", "70000"), "TESSERA_HTTP_PORT");
  ExpectConfigErrorNaming(with("TESSERA_HTTP_THREADS", "0"), "TESSERA_HTTP_THREADS");
  ExpectConfigErrorNaming(with("TESSERA_HTTP_IDLE_TIMEOUT_MS", "0"), "TESSERA_HTTP_IDLE_TIMEOUT_MS");
  ExpectConfigErrorNaming(with("TESSERA_REDIS_URL", "http://x"), "TESSERA_REDIS_URL");
  ExpectConfigErrorNaming(with("TESSERA_REDIS_URL", "redis://host:port"), "TESSERA_REDIS_URL");
  ExpectConfigErrorNaming(with("TESSERA_REDIS_URL", "unix://relative.sock"), "TESSERA_REDIS_URL");
  ExpectConfigErrorNaming(with("TESSERA_REDIS_URL", "unix:///r.sock?database=1"), "TESSERA_REDIS_URL");
  ExpectConfigErrorNaming(with("TESSERA_REDIS_URL", "unix:///r.sock?db=x"), "TESSERA_REDIS_URL");
  ExpectConfigErrorNaming(with("TESSERA_LOG_LEVEL", "loud"), "TESSERA_LOG_LEVEL");
  ExpectConfigErrorNaming(with("TESSERA_OUTBOX_RELAY", "maybe"), "TESSERA_OUTBOX_RELAY");
  ExpectConfigErrorNaming(with("TESSERA_KAFKA_CONSUMER_WORKERS", "0"), "TESSERA_KAFKA_CONSUMER_WORKERS");
  ExpectConfigErrorNaming(with("TESSERA_KAFKA_LINGER_MS", "1001"), "TESSERA_KAFKA_LINGER_MS");
  ExpectConfigErrorNaming(with("TESSERA_OUTBOX_LINGER_MS", "-1"), "TESSERA_OUTBOX_LINGER_MS");
  ExpectConfigErrorNaming(with("TESSERA_IDEMPOTENCY_RECORDS", "json"), "TESSERA_IDEMPOTENCY_RECORDS");
  ExpectConfigErrorNaming({{"TESSERA_JWT_SECRET", "x"}}, "TESSERA_API_KEYS_FILE");
  ExpectConfigErrorNaming({{"TESSERA_API_KEYS_FILE", "/k"}}, "TESSERA_JWT_SECRET");
}

}  // namespace
}  // namespace tessera
