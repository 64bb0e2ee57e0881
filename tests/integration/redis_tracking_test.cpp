// RedisInvalidations against a real redis-server: every change of a key under a prefix, followed
// by the writer's barrier round trip, reaches the handler by the time Sync() returns, other keys never do, FLUSHALL means "everything", and a
// killed server makes Sync() false (and clears) until it is back and resubscribed.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "tessera/clock.h"
#include "tessera/keys.h"
#include "tessera/redis.h"
#include "tessera/redis_tracking.h"
#include "testing.h"

namespace tessera {
namespace {

using testing::RedisServer;

RedisOptions OptionsFor(const RedisServer& server) {
  RedisOptions o;
  o.url = ParseRedisUrl(server.Url());
  o.pool_size = 4;
  o.command_timeout = std::chrono::milliseconds(500);
  o.connect_timeout = std::chrono::milliseconds(500);
  return o;
}

struct Seen {
  std::mutex mu;
  std::multiset<std::string> keys;
  int all = 0;
  bool Has(const std::string& k) {
    std::lock_guard l(mu);
    return keys.count(k) > 0;
  }
  int Alls() {
    std::lock_guard l(mu);
    return all;
  }
  void Reset() {
    std::lock_guard l(mu);
    keys.clear();
    all = 0;
  }
};

class Tracking : public ::testing::Test {
 protected:
  void SetUp() override {
    invalidations_ = std::make_unique<RedisInvalidations>(
        OptionsFor(server_), CachedMemberKeyPrefixes(),
        RedisInvalidations::Handlers{[this](std::string_view k) {
                                       std::lock_guard l(seen_.mu);
                                       seen_.keys.insert(std::string(k));
                                     },
                                     [this] {
                                       std::lock_guard l(seen_.mu);
                                       ++seen_.all;
                                     }},
        logger_);
    thread_ = std::jthread([this](std::stop_token st) { invalidations_->Run(st); });
    ASSERT_TRUE(WaitLive());
  }
  void TearDown() override {
    thread_.request_stop();
    thread_.join();
  }
  bool WaitLive() {
    for (int i = 0; i < 200; ++i) {
      if (invalidations_->Sync()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  RedisServer server_;
  SystemClock clock_;
  std::ostringstream log_;
  Logger logger_{"test", LogLevel::kWarn, log_, clock_};
  Seen seen_;
  std::unique_ptr<RedisInvalidations> invalidations_;
  std::jthread thread_;
};

TEST_F(Tracking, AChangeIsAppliedBeforeSyncReturnsAndOnlyCachedKeysAreSent) {
  RedisPool writer(OptionsFor(server_));
  // A thousand changes, each checked right after the writer's barrier: no waiting allowed.
  for (int i = 0; i < 1000; ++i) {
    const std::string key = CachedMemberKey("m-" + std::to_string(i), i % 2 ? "offers" : "features");
    writer.Command({"HSET", key, "f", "v"}).ThrowIfError();
    writer.Command({"PING"}).ThrowIfError();  // the barrier writers make (OffersStore::Barrier)
    ASSERT_TRUE(invalidations_->Sync());
    ASSERT_TRUE(seen_.Has(key)) << "change " << i << " of " << key << " not applied when Sync() returned";
  }
  // Keys outside the cached prefixes are never broadcast.
  writer.Command({"SET", MemberKey("m-1", "state"), "x"}).ThrowIfError();
  writer.Command({"SET", "unrelated", "x"}).ThrowIfError();
  writer.Command({"HSET", CachedMemberKey("m-last", "offers"), "f", "v"}).ThrowIfError();  // a marker after them
  writer.Command({"PING"}).ThrowIfError();
  ASSERT_TRUE(invalidations_->Sync());
  EXPECT_TRUE(seen_.Has(CachedMemberKey("m-last", "offers")));
  EXPECT_FALSE(seen_.Has(MemberKey("m-1", "state")));
  EXPECT_FALSE(seen_.Has("unrelated"));
  // Deletion and expiry are changes too.
  const std::string expiring = CachedMemberKey("m-exp", "features");
  writer.Command({"SET", expiring, "x", "PX", "50"}).ThrowIfError();
  writer.Command({"DEL", CachedMemberKey("m-1", "offers")}).ThrowIfError();
  seen_.Reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.Command({"EXISTS", expiring});  // an access expires it at once if the cycle has not
  ASSERT_TRUE(invalidations_->Sync());
  EXPECT_TRUE(seen_.Has(expiring));
}

TEST_F(Tracking, FlushMeansEverything) {
  const int before = seen_.Alls();
  server_.Cli({"FLUSHALL"});
  server_.Cli({"PING"});
  ASSERT_TRUE(invalidations_->Sync());
  EXPECT_EQ(seen_.Alls(), before + 1);
}

TEST_F(Tracking, ManyThreadsSyncWhileChangesArrive) {
  RedisPool writer(OptionsFor(server_));
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300 && !failed; ++i) {
        const std::string key = CachedMemberKey("t" + std::to_string(t) + "-" + std::to_string(i), "offers");
        writer.Command({"HSET", key, "f", "v"}).ThrowIfError();
        writer.Command({"PING"}).ThrowIfError();
        if (!invalidations_->Sync() || !seen_.Has(key)) failed = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(failed) << "a change was not applied when Sync() returned to the thread that made it";
}

TEST_F(Tracking, AKilledServerStopsTheCacheUntilResubscribed) {
  const uint64_t connections = invalidations_->connections();
  const int alls = seen_.Alls();
  server_.Kill();
  bool down = false;
  for (int i = 0; i < 100 && !down; ++i) {
    down = !invalidations_->Sync();
    if (!down) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(down) << "Sync() must turn false once the subscription is lost";
  // The reader thread turns Sync() false and then runs `all`, one right after the other: this
  // thread may look in between.
  for (int i = 0; i < 100 && seen_.Alls() <= alls; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(seen_.Alls(), alls) << "losing the subscription must drop what was cached";
  server_.Start();
  ASSERT_TRUE(WaitLive());
  EXPECT_GT(invalidations_->connections(), connections);
  RedisPool writer(OptionsFor(server_));
  const std::string key = CachedMemberKey("m-after", "offers");
  writer.Command({"HSET", key, "f", "v"}).ThrowIfError();
  writer.Command({"PING"}).ThrowIfError();
  ASSERT_TRUE(invalidations_->Sync());
  EXPECT_TRUE(seen_.Has(key));
}

}  // namespace
}  // namespace tessera
