// Hostile input against the whole stack: tools/fuzz_http.py breaks one thing at a time in valid
// requests to every route (field types and values, bytes that are not UTF-8 in paths, broken
// JSON, headers, queries, methods) and fails on any 5xx other than 503, any 4xx that is not
// problem+json, or a dropped connection. Afterwards every service is still running, and the
// member the fuzzer wrote to still balances. Then the same for events: broken versions of what
// each consumer reads go to its topics, and the consumers must neither stop nor stall.
#include <gtest/gtest.h>

#include <random>

#include "e2e.h"

namespace tessera::e2e {
namespace {

TEST(HostileInput, NoRequestCrashesAServiceOrAnswersAnythingButAProblemOr2xx) {
  Stack stack;
  auto rewards = stack.Client("rewards");
  // A member to act on, so that the mutated requests reach the domain code too.
  ASSERT_EQ(rewards.Request("POST", "/v1/members", R"({"member_id":"fz-1","channel":"web"})", As("pos")).status, 201);
  const std::string out = ::testing::TempDir() + "/fuzz_http.out";
  for (int seed : {1, 2, 3}) {
    const std::string cmd = "/usr/bin/python3 " + SourceDir() + "/tools/fuzz_http.py --seed " + std::to_string(seed) +
                            " --requests 3000 --rewards " + stack.services.at("rewards")->BaseUrl() + " --offers " +
                            stack.services.at("offers")->BaseUrl() + " --notifications " +
                            stack.services.at("notifications")->BaseUrl() + " > " + out + " 2>&1";
    const int rc = std::system(cmd.c_str());
    std::stringstream report;
    report << std::ifstream(out).rdbuf();
    EXPECT_EQ(WEXITSTATUS(rc), 0) << report.str();
  }
  for (const auto& [name, service] : stack.services) EXPECT_TRUE(service->process().Running()) << name;
  auto audit = rewards.Get("/v1/members/fz-1/audit", As("agent"));
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.Json()["consistent"], true) << audit.body;
}

// A valid event with one thing broken: a field's value or type (at any depth), a field removed,
// or the whole message replaced by text that is not an envelope.
std::string Mutated(std::mt19937& rng, json event) {
  static const std::vector<json> kWeird = {nullptr, true, -1, 0, int64_t{1} << 62, -(int64_t{1} << 62), 1e308, 0.5, "", "x",
                                           std::string(5000, 'x'), "\xc3\xa9\xf0\x9f\x8e\x89", json::array(), json::object(),
                                           json::array({json::array({json::array()})}), "2026-13-45T99:99:99Z", "NaN"};
  static const std::vector<std::string> kRaw = {"", "{", "null", "[]", "42", "\"s\"", "{\"type\":\"purchase.completed\"}",
                                                std::string(2000, '['), "\xff\xfe\x00"};
  std::uniform_int_distribution<int> pct(0, 99);
  if (pct(rng) < 10) return kRaw[rng() % kRaw.size()];
  json* at = &event;
  for (int depth = 0; depth < 3 && at->is_object() && !at->empty(); ++depth) {
    auto it = std::next(at->begin(), static_cast<long>(rng() % at->size()));
    if (pct(rng) < 15) {
      at->erase(it);
      return event.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    if (!it->is_object() || pct(rng) < 40) {
      *it = kWeird[rng() % kWeird.size()];
      return event.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    at = &*it;
  }
  *at = kWeird[rng() % kWeird.size()];
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

TEST(HostileInput, BrokenEventsNeitherStopNorStallAConsumer) {
  Stack stack;
  auto rewards = stack.Client("rewards");
  auto notifications = stack.Client("notifications");
  const std::string m = "he-1";
  ASSERT_EQ(rewards.Request("POST", "/v1/members", json({{"member_id", m}, {"channel", "web"}}).dump(), As("pos")).status, 201);
  const std::string now = FormatRfc3339(SystemClock().Now());
  auto envelope = [&](const std::string& type, json payload) {
    return json{{"event_id", NewUuid()}, {"type", type}, {"schema_version", 1}, {"occurred_at", now}, {"member_id", m},
                {"member_seq", 2}, {"channel", "store"}, {"source", "fuzz"}, {"correlation_id", "c"}, {"causation_id", ""},
                {"payload", std::move(payload)}};
  };
  auto purchase = [&](const std::string& order, int64_t total) {
    return envelope("purchase.completed", {{"order_id", order}, {"channel", "store"}, {"occurred_at", now}, {"currency", "USD"},
                                           {"total_minor", total},
                                           {"items", json::array({{{"sku", "s"}, {"category", "grocery"}, {"amount_minor", total}, {"quantity", 1}}})}});
  };
  // What each consumer reads: rewards (purchases, offers), offers and notifications (ledger).
  const std::vector<std::pair<const char*, json>> seeds = {
      {topics::kPurchases, purchase("o-seed", 1000)},
      {topics::kPurchases, envelope("purchase.refunded", {{"order_id", "o-seed"}, {"refund_minor", 100}, {"reason", "r"}})},
      {topics::kOffers, envelope("offer.redeemed", {{"campaign_id", "c-1"}, {"offer_id", "c-1"}, {"order_id", "o-seed"},
                                                    {"reward", {{"type", "bonus_points"}, {"points", 5}}}})},
      {topics::kLedger, envelope("points.earned", {{"points", 10}, {"order_id", "o-seed"}, {"entry_id", "e-1"},
                                                   {"balances", {{"available", 10}, {"pending", 0}, {"held", 0}, {"lifetime", 10},
                                                                 {"qualifying", 10}, {"tier", "member"}}}})},
      {topics::kLedger, envelope("tier.changed", {{"from", "member"}, {"to", "silver"}, {"balances", {{"available", 10}, {"tier", "silver"}}}})},
  };
  std::mt19937 rng(7);
  int published = 0;
  for (int i = 0; i < 600; ++i) {
    const auto& [topic, seed] = seeds[rng() % seeds.size()];
    stack.producer->Publish(topic, m, Mutated(rng, seed), [](const std::string&) {});
    ++published;
  }
  // Behind the broken ones, on the same partitions (same key): one valid event per consumer.
  stack.producer->Publish(topics::kPurchases, m, purchase("o-after", 2000).dump(), [](const std::string&) {});
  ASSERT_TRUE(stack.producer->Flush(std::chrono::seconds(30)));
  // The rewards consumer got to the valid purchase: its earn is on the account, and its
  // points.earned reaches the notifications consumer behind the broken ledger events.
  int64_t earned = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ledger = rewards.Get("/v1/members/" + m + "/ledger?limit=100", As("pos")).Json();
        for (const auto& e : ledger["entries"]) {
          if (e["reference"] == "o-after") earned = e["points"];
        }
        return earned > 0;
      },
      std::chrono::seconds(90)))
      << published << " broken events left the valid purchase unapplied";
  ASSERT_TRUE(WaitFor(
      [&] {
        auto inbox = notifications.Get("/v1/members/" + m + "/inbox?limit=100", As("storefront")).Json()["notifications"];
        for (const auto& n : inbox) {
          if (n["event_type"] == "points.earned" && n["subject"] == "You earned " + std::to_string(earned) + " points" &&
              n["event_time"].get<std::string>() > now) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(90)))
      << notifications.Get("/v1/members/" + m + "/inbox?limit=100", As("storefront")).body;
  // What could not be used was parked with its reason, not dropped in silence.
  size_t parked = 0;
  for (const char* topic : {topics::kPurchases, topics::kOffers, topics::kLedger}) {
    for (const auto& msg : ReadTopic(stack.broker.brokers(), DlqTopicFor(topic), 0, std::chrono::seconds(5))) {
      const json record = json::parse(msg.value);
      EXPECT_FALSE(record["error"].get<std::string>().empty()) << msg.value;
      EXPECT_EQ(record["topic"], topic);
      ++parked;
    }
  }
  EXPECT_GE(parked, 100u) << "of " << published << " broken events";
  for (const auto& [name, service] : stack.services) EXPECT_TRUE(service->process().Running()) << name;
  auto audit = rewards.Get("/v1/members/" + m + "/audit", As("agent"));
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.Json()["consistent"], true) << audit.body;
}

}  // namespace
}  // namespace tessera::e2e
