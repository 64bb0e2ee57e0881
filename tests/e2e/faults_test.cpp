// Faults on the whole stack, each reporting what it injected and what it counted:
// the broker unreachable for 10 s, redis-server restarted, tessera-offers SIGKILLed under
// load, and every service stopped (SIGTERM) after Kafka and Redis have gone. (SIGKILL of tessera-rewards and tessera-notifications under load is in their own
// service tests.)
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "e2e.h"

namespace tessera::e2e {
namespace {

double Metric(RecordingClient& c, const std::string& name) { return testing::MetricValue(c.Get("/metrics").body, name); }

TEST(Faults, BrokerUnreachableForTenSecondsLosesNothing) {
  Stack stack;
  auto rewards = stack.Client("rewards");
  auto notifications = stack.Client("notifications");
  const std::string now = FormatRfc3339(SystemClock().Now());
  stack.broker.Down();
  const auto down_at = std::chrono::steady_clock::now();
  int acknowledged = 0;
  double max_depth = 0;
  for (int i = 0; std::chrono::steady_clock::now() - down_at < std::chrono::seconds(10); ++i) {
    const std::string m = "fb-" + std::to_string(i % 20);
    if (i < 20) {
      acknowledged += rewards.Request("POST", "/v1/members", json({{"member_id", m}, {"channel", "web"}}).dump(), As("pos")).status == 201;
    } else {
      acknowledged += rewards.Request("POST", "/v1/members/" + m + "/earnings",
                                      json({{"order_id", "o-" + std::to_string(i)}, {"channel", "store"}, {"occurred_at", now},
                                            {"currency", "USD"}, {"total_minor", 1000}}).dump(),
                                      As("pos")).status == 201;
    }
    max_depth = std::max(max_depth, Metric(rewards, "tessera_outbox_depth"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stack.broker.Up();
  ASSERT_TRUE(WaitFor([&] { return Metric(rewards, "tessera_outbox_depth") == 0; }, std::chrono::seconds(90)));
  int64_t versions = 0;
  for (int i = 0; i < 20; ++i) versions += rewards.Get("/v1/members/fb-" + std::to_string(i), As("pos")).Json()["version"].get<int64_t>();
  auto events = stack.Events(static_cast<size_t>(versions));
  int64_t ledger = 0;
  for (const auto& e : events) ledger += e["source"] == "tessera-rewards";
  // Every member got its welcome once the broker was back.
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < 20; ++i) {
      if (notifications.Get("/v1/members/fb-" + std::to_string(i) + "/inbox", As("storefront")).Json()["notifications"].empty()) return false;
    }
    return true;
  }, std::chrono::seconds(60)));
  std::cout << "[ fault    ] broker down 10 s: " << acknowledged << " requests acknowledged meanwhile, outbox depth up to " << max_depth
            << ", drained to 0; ledger events on the topic " << ledger << " of " << versions << " committed changes" << std::endl;
  EXPECT_GT(max_depth, 0) << "the outbox grew while the broker was away";
  EXPECT_EQ(ledger, versions) << "nothing lost, nothing extra";
}

TEST(Faults, RedisRestartedMoneyFailsClosedPersonalizationFailsOpen) {
  Stack stack;
  auto rewards = stack.Client("rewards");
  auto offers = stack.Client("offers");
  ASSERT_EQ(rewards.Request("POST", "/v1/members", R"({"member_id":"rr-1","channel":"web"})", As("pos")).status, 201);
  ASSERT_EQ(rewards.Request("POST", "/v1/members/rr-1/earnings",
                            json({{"order_id", "o-1"}, {"channel", "store"}, {"occurred_at", FormatRfc3339(SystemClock().Now())},
                                  {"currency", "USD"}, {"total_minor", 5000}}).dump(),
                            As("pos")).status,
            201);
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns",
                           R"({"campaign_id":"open","name":"open","starts_at":"2026-01-01T00:00:00Z","ends_at":"2030-01-01T00:00:00Z","channels":["web"],"reward":{"type":"bonus_points","points":5},"content":{"en":{"title":"5 points"}}})",
                           As("ops")).status,
            201);
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns/open/publish", "", As("ops")).status, 200);
  ASSERT_TRUE(WaitFor([&] { return offers.Get("/v1/members/rr-1/offers?channel=web", As("storefront")).Json()["personalized"] == true; },
                      std::chrono::seconds(30)));
  stack.redis.Kill();
  auto redeem = rewards.Request("POST", "/v1/members/rr-1/redemptions", R"({"points":10,"channel":"web"})", As("pos", "rr-k1"));
  auto hold = rewards.Request("POST", "/v1/members/rr-1/holds", R"({"points":10,"channel":"store","ttl_seconds":60})", As("pos", "rr-k2"));
  auto listing = offers.Get("/v1/members/rr-1/offers?channel=web", As("storefront"));
  std::cout << "[ fault    ] redis-server killed: redemption " << redeem.status << ", hold " << hold.status << ", offers listing "
            << listing.status << " (personalized " << listing.Json().value("personalized", true) << ")" << std::endl;
  EXPECT_EQ(redeem.status, 503);
  EXPECT_EQ(redeem.Json()["code"], "service_unavailable");
  EXPECT_EQ(hold.status, 503);
  ASSERT_EQ(listing.status, 200) << "personalization fails open";
  EXPECT_EQ(listing.Json()["personalized"], false);
  ASSERT_EQ(listing.Json()["offers"].size(), 1u);
  stack.redis.Start();  // AOF replayed
  ASSERT_TRUE(WaitFor([&] { return rewards.Get("/readyz").status == 200 && offers.Get("/readyz").status == 200; }, std::chrono::seconds(30)));
  auto after = rewards.Request("POST", "/v1/members/rr-1/redemptions", R"({"points":10,"channel":"web"})", As("pos", "rr-k3"));
  EXPECT_EQ(after.status, 201) << after.body;
  EXPECT_EQ(rewards.Get("/v1/members/rr-1", As("pos")).Json()["points"]["available"], 490) << "the balance survived the restart";
  EXPECT_EQ(offers.Get("/v1/members/rr-1/offers?channel=web", As("storefront")).Json()["personalized"], true);
}

TEST(Faults, OffersKilledDuringActivationsAppliesEachOnce) {
  Stack stack;
  auto offers = stack.Client("offers");
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns",
                           R"({"campaign_id":"clip","name":"clip","starts_at":"2026-01-01T00:00:00Z","ends_at":"2030-01-01T00:00:00Z","channels":["web","app","store"],"reward":{"type":"bonus_points","points":5},"conditions":{"requires_activation":true},"content":{"en":{"title":"clip me"}}})",
                           As("ops")).status,
            201);
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns/clip/publish", "", As("ops")).status, 200);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> acknowledged, unanswered;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(stack.services.at("offers")->BaseUrl());  // threads: not recorded
      for (int i = 0; !stop.load(); ++i) {
        const std::string member = "ka-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = c.Request("POST", "/v1/members/" + member + "/offers/clip/activate", R"({"channel":"app"})", As("storefront"));
        std::lock_guard lock(mu);
        if (r.status == 201) acknowledged.insert(member);
        if (r.status == 0) {
          unanswered.insert(member);
          return;
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { std::lock_guard lock(mu); return acknowledged.size() > 100; }, std::chrono::seconds(30)));
  stack.services.at("offers")->process().Signal(SIGKILL);
  stack.services.at("offers")->process().Wait(std::chrono::seconds(10));
  stop = true;
  for (auto& th : threads) th.join();
  stack.Start("offers");
  auto restarted = stack.Client("offers");
  for (const auto& member : unanswered) {  // clients retry what got no answer
    auto r = restarted.Request("POST", "/v1/members/" + member + "/offers/clip/activate", R"({"channel":"app"})", As("storefront"));
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
    acknowledged.insert(member);
  }
  std::map<std::string, int> activations;
  ASSERT_TRUE(WaitFor([&] {
    activations.clear();
    for (const auto& e : stack.Events()) {
      if (e["type"] == "offer.activated") activations[e["member_id"]]++;
    }
    return activations.size() >= acknowledged.size();
  }, std::chrono::seconds(60)));
  std::cout << "[ fault    ] SIGKILL of tessera-offers during activations: " << acknowledged.size() << " acknowledged ("
            << unanswered.size() << " retried after restart), " << activations.size() << " members with offer.activated" << std::endl;
  for (const auto& member : acknowledged) EXPECT_EQ(activations[member], 1) << member;
  EXPECT_EQ(activations.size(), acknowledged.size()) << "no event for an activation that was not applied";
}

// A pod is often stopped because its dependencies are gone. Each service must still stop, with
// status 0, well inside the pod's grace period (45 s in k8s/), not spin until it is killed.
TEST(Faults, EveryServiceStopsPromptlyWhenKafkaAndRedisAreGone) {
  Stack stack;
  auto offers = stack.Client("offers");
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns",
                           R"({"campaign_id":"gone","name":"gone","starts_at":"2026-01-01T00:00:00Z","ends_at":"2030-01-01T00:00:00Z","channels":["web"],"reward":{"type":"bonus_points","points":5},"content":{"en":{"title":"5 points"}}})",
                           As("ops")).status,
            201);
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns/gone/publish", "", As("ops")).status, 200);
  // campaign.published reaches tessera.offers.v1 and the campaign cache's tail consumes it.
  ASSERT_FALSE(ReadTopic(stack.broker.brokers(), topics::kOffers, 1, std::chrono::seconds(20)).empty());
  std::this_thread::sleep_for(std::chrono::seconds(1));

  stack.broker.process().Signal(SIGKILL);
  stack.broker.process().Wait(std::chrono::seconds(5));
  stack.redis.Kill();
  for (const char* name : {"offers", "rewards", "notifications"}) {
    auto& process = stack.services.at(name)->process();
    const auto t0 = std::chrono::steady_clock::now();
    process.Signal(SIGTERM);
    const std::optional<int> status = process.Wait(std::chrono::seconds(60));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "[ fault    ] Kafka and Redis gone: tessera-" << name << " stopped in " << seconds << " s" << std::endl;
    EXPECT_EQ(status, 0) << name << process.Log();
    EXPECT_LT(seconds, 20.0) << name;
  }
}

}  // namespace
}  // namespace tessera::e2e
