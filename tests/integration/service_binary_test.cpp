// The service binaries as a user runs them: configuration errors stop them with a message,
// readiness follows Redis, SIGTERM stops them cleanly, and the in-process outbox relay loses
// nothing when the process is killed with SIGKILL in the middle of a stream of events, and
// replicas split the outbox streams between them.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "tessera/events.h"
#include "tessera/keys.h"
#include "tessera/lua_library.h"
#include "tessera/redis.h"
#include "testing.h"

namespace tessera {
namespace {

using namespace testing;

TEST(ServiceBinary, InvalidConfigurationExitsWithTheVariableName) {
  TempDir dir;
  for (const std::string name : {"rewards", "offers", "notifications"}) {
    ChildProcess p({BuildDir() + "/services/" + name + "/tessera-" + name},
                   {{"TESSERA_HTTP_PORT", "not-a-port"}, {"TESSERA_API_KEYS_FILE", "/nonexistent"},
                    {"TESSERA_JWT_SECRET", "x"}},
                   dir.path() + "/" + name + ".log");
    EXPECT_EQ(p.Wait(std::chrono::seconds(10)), 2);
    EXPECT_NE(p.Log().find("TESSERA_HTTP_PORT"), std::string::npos) << p.Log();
  }
}

// The names of a process's threads (/proc/<pid>/task/*/comm), as `top -H` shows them.
std::multiset<std::string> ThreadNames(pid_t pid) {
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

TEST(ServiceBinary, AllThreeServeHealthReadinessAndMetricsThenStopOnSigterm) {
  RedisServer redis;
  DevBroker broker;
  // Each service's own threads say what they are for (docs/operations.md, "Threads").
  const std::map<std::string, std::vector<std::string>> roles = {
      {"rewards", {"http-io", "http-timeouts", "redis-pipeline", "outbox-relay", "kafka-producer",
                   "kafka-consumer", "expiry-sweep", "task-queue"}},
      {"offers", {"http-io", "outbox-relay", "kafka-producer", "kafka-consumer", "campaign-cache",
                  "campaign-stats", "listing-invalid"}},
      {"notifications", {"http-io", "outbox-relay", "kafka-producer", "kafka-consumer", "dispatcher"}}};
  for (const std::string name : {"rewards", "offers", "notifications"}) {
    auto service = std::make_unique<ServiceProcess>(name, ServiceEnv(redis, broker, 0));
    HttpClient c(service->BaseUrl());
    EXPECT_EQ(c.Get("/healthz").status, 200) << name;
    EXPECT_TRUE(WaitFor([&] { return c.Get("/readyz").status == 200; }, std::chrono::seconds(20))) << name;
    const std::multiset<std::string> threads = ThreadNames(service->process().pid());
    for (const auto& role : roles.at(name)) {
      EXPECT_TRUE(threads.count(role)) << name << " has no thread named " << role;
    }
    auto metrics = c.Get("/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("tessera_outbox_depth"), std::string::npos) << name;
    service->process().Signal(SIGTERM);
    EXPECT_EQ(service->process().Wait(std::chrono::seconds(20)), 0) << name << service->process().Log();
  }
}

TEST(ServiceBinary, ReadinessFollowsRedis) {
  RedisServer redis;
  DevBroker broker;
  ServiceProcess service("rewards", ServiceEnv(redis, broker, 0));
  HttpClient c(service.BaseUrl());
  ASSERT_TRUE(WaitFor([&] { return c.Get("/readyz").status == 200; }, std::chrono::seconds(20)));
  redis.Kill();
  auto down = c.Get("/readyz");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.Json()["reason"], "redis unreachable");
  EXPECT_EQ(c.Get("/healthz").status, 200) << "the process itself is alive";
  redis.Start();
  EXPECT_TRUE(WaitFor([&] { return c.Get("/readyz").status == 200; }, std::chrono::seconds(20)));
}

// Appends ledger events to tessera-rewards' outbox as its scripts do, and counts what waits there.
class RewardsOutbox {
 public:
  explicit RewardsOutbox(const RedisServer& redis) : pool_(Options(redis)) {}
  void Append(const std::string& member, const std::string& event_id) {
    nlohmann::json ev = {{"event_id", event_id}, {"member_id", member}};
    pool_.Eval(append_, {OutboxStream(BucketTag(MemberBucket(member)), "rewards")}, {topics::kLedger, member, ev.dump()});
  }
  int64_t Depth() {
    int64_t total = 0;
    for (const auto& s : OutboxStreams("rewards")) total += pool_.Command({"XLEN", s}).AsInt();
    return total;
  }

 private:
  static RedisOptions Options(const RedisServer& redis) {
    RedisOptions ro;
    ro.url = ParseRedisUrl(redis.Url());
    return ro;
  }
  RedisPool pool_;
  const LuaScript append_ = MakeScript("append", "return tessera_outbox_append(KEYS[1], ARGV[1], ARGV[2], ARGV[3])");
};

TEST(ServiceBinary, RelayKilledMidStreamLosesNothing) {
  RedisServer redis;
  DevBroker broker;
  RewardsOutbox outbox(redis);

  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load() || i < 3000; ++i) {
      outbox.Append("m-" + std::to_string(i % 101), "ev-" + std::to_string(i));
      written++;
    }
  });
  auto env = ServiceEnv(redis, broker, 0);
  auto service = std::make_unique<ServiceProcess>("rewards", env);
  auto published = [&] {
    return ReadTopic(broker.brokers(), topics::kLedger, 1, std::chrono::milliseconds(500)).size();
  };
  ASSERT_TRUE(WaitFor([&] { return published() > 200; }, std::chrono::seconds(30)));
  service->process().Signal(SIGKILL);
  service->process().Wait(std::chrono::seconds(10));
  const int written_at_kill = written.load();
  const size_t published_at_kill = published();
  service = std::make_unique<ServiceProcess>("rewards", env);  // restart
  stop = true;
  writer.join();

  ASSERT_TRUE(WaitFor([&] { return outbox.Depth() == 0; }, std::chrono::seconds(60)));
  auto msgs = ReadTopic(broker.brokers(), topics::kLedger, written.load(), std::chrono::seconds(30));
  std::map<std::string, int> counts;
  for (const auto& m : msgs) counts[nlohmann::json::parse(m.value)["event_id"].get<std::string>()]++;
  int duplicates = 0;
  for (const auto& [id, n] : counts) duplicates += n - 1;
  std::cout << "[ fault    ] SIGKILL of tessera-rewards after " << published_at_kill << " of " << written_at_kill
            << " events published; after restart: written=" << written.load() << " distinct published="
            << counts.size() << " duplicates (same event_id)=" << duplicates << std::endl;
  EXPECT_EQ(counts.size(), static_cast<size_t>(written.load())) << "every entry is delivered";
  for (int i = 0; i < written.load(); ++i) ASSERT_EQ(counts.count("ev-" + std::to_string(i)), 1u) << i;
}

// Two replicas of a service split the outbox streams 33/32; when one stops (SIGTERM), the
// other takes all 65 without waiting for the leases to run out.
TEST(ServiceBinary, ReplicasSplitTheOutboxStreamsAndTakeThemBackWhenOneStops) {
  RedisServer redis;
  DevBroker broker;
  auto first = std::make_unique<ServiceProcess>("rewards", ServiceEnv(redis, broker, 0));
  auto second = std::make_unique<ServiceProcess>("rewards", ServiceEnv(redis, broker, 0));
  auto owned = [](ServiceProcess& p) {
    const std::string body = HttpClient(p.BaseUrl()).Get("/metrics").body;
    const std::string name = "\ntessera_outbox_streams_owned ";
    const size_t at = body.find(name);
    return at == std::string::npos ? -1 : std::stoi(body.substr(at + name.size()));
  };
  ASSERT_TRUE(WaitFor([&] {
    const int a = owned(*first), b = owned(*second);
    return std::min(a, b) == 32 && std::max(a, b) == 33;
  }, std::chrono::seconds(30)))
      << owned(*first) << " and " << owned(*second);
  first->process().Signal(SIGTERM);
  ASSERT_EQ(first->process().Wait(std::chrono::seconds(20)), 0);
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return owned(*second) == 65; }, std::chrono::seconds(30)));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, std::chrono::seconds(9))
      << "the stopped replica left at once; its leases (10 s) did not have to run out";
}

// SIGTERM while Kafka is away and events wait in the relay's producer: the service stops
// promptly (one bounded flush, not one per layer), deletes nothing Kafka did not take, and the
// next replica publishes every waiting event once Kafka is back.
TEST(ServiceBinary, StoppedWhileKafkaIsAwayItStopsPromptlyAndLeavesItsEventsToTheNextReplica) {
  RedisServer redis;
  DevBroker broker;
  RewardsOutbox outbox(redis);
  auto env = ServiceEnv(redis, broker, 0);
  env["TESSERA_DRAIN_TIMEOUT_MS"] = "1000";
  auto service = std::make_unique<ServiceProcess>("rewards", env);
  HttpClient c(service->BaseUrl());
  ASSERT_TRUE(WaitFor([&] { return c.Get("/readyz").status == 200; }, std::chrono::seconds(20)));
  broker.Down();
  for (int i = 0; i < 100; ++i) outbox.Append("m-" + std::to_string(i % 7), "w-" + std::to_string(i));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // read, and waiting in the producer
  const auto t0 = std::chrono::steady_clock::now();
  service->process().Signal(SIGTERM);
  EXPECT_EQ(service->process().Wait(std::chrono::seconds(60)), 0) << service->process().Log();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ fault    ] Kafka away, 100 events waiting: tessera-rewards stopped in " << seconds << " s" << std::endl;
  EXPECT_LT(seconds, 16.0) << "drain 1 s, consumers' close up to 5 s, one 10 s flush";
  EXPECT_EQ(outbox.Depth(), 100) << "nothing was acknowledged, so nothing was deleted";
  broker.Up();
  service = std::make_unique<ServiceProcess>("rewards", env);
  ASSERT_TRUE(WaitFor([&] { return outbox.Depth() == 0; }, std::chrono::seconds(60)));
  std::set<std::string> ids;
  for (const auto& m : ReadTopic(broker.brokers(), topics::kLedger, 100, std::chrono::seconds(30))) {
    ids.insert(nlohmann::json::parse(m.value)["event_id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace tessera
