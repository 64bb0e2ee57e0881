// ServiceRuntime's ownership contract: what a service makes with Make() lives until the runtime
// is destroyed and is destroyed newest first, so that an object may use what was made before
// it until its own destructor has run (the rewards app its store, the store its Redis pipeline).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tessera/clock.h"
#include "tessera/config.h"
#include "tessera/service_runtime.h"
#include "testing.h"

namespace tessera {
namespace {

using testing::RedisServer;

// Records its own destruction, and checks that what it depends on is still alive then.
struct Part {
  Part(std::string name, std::vector<std::string>& log, const Part* uses = nullptr)
      : name(std::move(name)), log(log), uses(uses) {}
  ~Part() {
    log.push_back(name + (uses && !uses->alive ? " (used a destroyed " + uses->name + ")" : ""));
    alive = false;
  }
  std::string name;
  std::vector<std::string>& log;
  const Part* uses;
  bool alive = true;
};

TEST(ServiceRuntime, DestroysWhatItMadeNewestFirst) {
  RedisServer redis;
  std::map<std::string, std::string> vars = {
      {"TESSERA_API_KEYS_FILE", testing::SourceDir() + "/config/dev/api-keys.json"},
      {"TESSERA_JWT_SECRET", "test-secret"},
      {"TESSERA_REDIS_URL", redis.Url()},
      {"TESSERA_KAFKA_BROKERS", "127.0.0.1:" + std::to_string(testing::FreePort())},
      {"TESSERA_OUTBOX_RELAY", "false"},
      {"TESSERA_LOG_LEVEL", "error"}};
  EnvReader env([&vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  SystemClock clock;
  std::vector<std::string> log;
  {
    ServiceRuntime rt(LoadServiceConfig("rewards", 0, env), clock);
    Part& pipeline = rt.Make<Part>("pipeline", log);
    Part& store = rt.Make<Part>("store", log, &pipeline);
    rt.Make<Part>("app", log, &store);
    EXPECT_TRUE(log.empty()) << "made objects live as long as the runtime";
  }
  EXPECT_EQ(log, (std::vector<std::string>{"app", "store", "pipeline"}));
}

}  // namespace
}  // namespace tessera
