// tessera-offers as users run it: the binaries (with tessera-rewards feeding features through
// tessera.ledger.v1) against a real redis-server and the development broker.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "campaign_cache.h"
#include "tessera/auth.h"
#include "tessera/clock.h"
#include "tessera/keys.h"
#include "testing.h"

namespace tessera::offers {
namespace {

using namespace tessera::testing;
using json = nlohmann::json;
using Headers = std::map<std::string, std::string>;

Headers As(const std::string& role, const std::string& key = "") {
  Headers h = AuthHeader(role);
  if (!key.empty()) h["Idempotency-Key"] = key;
  return h;
}

json Campaign(const std::string& id, json overrides = json::object()) {
  json c = {{"campaign_id", id},
            {"name", "Campaign " + id},
            {"starts_at", "2026-01-01T00:00:00Z"},
            {"ends_at", "2030-01-01T00:00:00Z"},
            {"channels", {"web", "app", "store"}},
            {"reward", {{"type", "bonus_points"}, {"points", 100}}},
            {"content", {{"en", {{"title", "Offer " + id}, {"description", "An offer"}}}}}};
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    if (it.value().is_null()) c.erase(it.key());
    else c[it.key()] = it.value();
  }
  return c;
}

class OffersServiceTest : public ::testing::Test {
 protected:
  OffersServiceTest() {
    env_ = ServiceEnv(redis_, broker_, 0);
    env_["TESSERA_HTTP_THREADS"] = "8";
    offers_ = std::make_unique<ServiceProcess>("offers", env_);
  }
  void StartRewards() {
    TempDir* dir = new TempDir();  // owned by the fixture below
    dirs_.emplace_back(dir);
    json program = json::parse(R"({"program_id":"t","earn":{"base_points_per_major_unit":10,"currencies":{"USD":2}},
      "tiers":[{"name":"member","threshold":0},{"name":"silver","threshold":1000},{"name":"gold","threshold":5000}],
      "expiry":{"lot_days":365},"pending_days":0,
      "goodwill":{"max_points_per_adjustment":1000,"max_points_per_agent_per_day":5000}})");
    std::ofstream(dir->path() + "/program.json") << program.dump();
    auto env = env_;
    env["TESSERA_PROGRAM_FILE"] = dir->path() + "/program.json";
    rewards_ = std::make_unique<ServiceProcess>("rewards", env);
  }
  HttpClient Offers() { return HttpClient(offers_->BaseUrl()); }
  void CreateAndPublish(HttpClient& c, const json& campaign) {
    auto r = c.Request("POST", "/v1/campaigns", campaign.dump(), As("ops"));
    ASSERT_EQ(r.status, 201) << r.body;
    auto p = c.Request("POST", "/v1/campaigns/" + campaign["campaign_id"].get<std::string>() + "/publish", "", As("ops"));
    ASSERT_EQ(p.status, 200) << p.body;
  }
  json List(HttpClient& c, const std::string& member, const std::string& channel, const std::string& role = "storefront") {
    return c.Get("/v1/members/" + member + "/offers?channel=" + channel + "&limit=50", As(role)).Json();
  }
  static std::vector<std::string> Ids(const json& listing) {
    std::vector<std::string> out;
    for (const auto& o : listing["offers"]) out.push_back(o["offer_id"]);
    return out;
  }
  void ExpectProblem(const HttpResult& r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Json().value("code", ""), code) << r.body;
  }

  RedisServer redis_;
  DevBroker broker_;
  std::map<std::string, std::string> env_;
  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::unique_ptr<ServiceProcess> offers_;
  std::unique_ptr<ServiceProcess> rewards_;
};

TEST_F(OffersServiceTest, EveryChannelSeesTheSameOffersAndAnActivationAtOnce) {
  StartRewards();
  HttpClient rewards(rewards_->BaseUrl());
  ASSERT_EQ(rewards.Request("POST", "/v1/members", R"({"member_id":"m-1","channel":"web","locale":"ja"})", As("pos")).status, 201);
  const std::string now = FormatRfc3339(SystemClock().Now());
  ASSERT_EQ(rewards.Request("POST", "/v1/members/m-1/earnings",
                            json({{"order_id", "o-1"}, {"channel", "store"}, {"occurred_at", now}, {"currency", "USD"},
                                  {"total_minor", 20000}}).dump(),
                            As("pos")).status,
            201);
  auto c = Offers();
  // Features arrive through tessera.ledger.v1.
  ASSERT_TRUE(WaitFor([&] { return c.Get("/v1/members/m-1/features", As("pos")).Json()["tier"] == "silver"; },
                      std::chrono::seconds(30)));
  CreateAndPublish(c, Campaign("c-silver", {{"audience", json::parse(R"({"in":[{"var":"tier"},["silver","gold"]]})")},
                                            {"conditions", {{"requires_activation", true}}},
                                            {"content", {{"en", {{"title", "Silver treat"}}}, {"ja", {{"title", "シルバー特典"}}}}}}));
  CreateAndPublish(c, Campaign("c-open", {{"priority", 2}}));
  CreateAndPublish(c, Campaign("c-web", {{"channels", {"web"}}}));
  CreateAndPublish(c, Campaign("c-gold", {{"audience", json::parse(R"({"==":[{"var":"tier"},"gold"]})")}}));

  auto web = List(c, "m-1", "web"), app = List(c, "m-1", "app", "pos"), store = List(c, "m-1", "store", "pos");
  EXPECT_TRUE(web["personalized"].get<bool>());
  EXPECT_EQ(Ids(app), (std::vector<std::string>{"c-open", "c-silver"}));
  EXPECT_EQ(app["offers"], store["offers"]) << "ids, versions, order, states, texts";
  EXPECT_EQ(Ids(web), (std::vector<std::string>{"c-open", "c-silver", "c-web"}));
  EXPECT_EQ(app["offers"][1]["title"], "シルバー特典") << "the member's locale";
  EXPECT_EQ(app["offers"][1]["state"], "available");

  const auto t = SystemClock().Now();
  const std::string jwt = MakeAppJwt(kDevJwtSecret, "m-1", t, t + std::chrono::hours(1));
  auto activated = c.Request("POST", "/v1/members/m-1/offers/c-silver/activate", R"({"channel":"app"})",
                             {{"Authorization", "Bearer " + jwt}});
  ASSERT_EQ(activated.status, 201) << activated.body;
  EXPECT_EQ(c.Request("POST", "/v1/members/m-1/offers/c-silver/activate", R"({"channel":"app"})",
                      {{"Authorization", "Bearer " + jwt}}).status,
            200)
      << "activation is idempotent";
  store = List(c, "m-1", "store", "pos");
  EXPECT_EQ(store["offers"][1]["offer_id"], "c-silver");
  EXPECT_EQ(store["offers"][1]["state"], "activated") << "visible in the store at once";
  ExpectProblem(c.Request("POST", "/v1/members/m-2/offers/c-open/activate", "", {{"Authorization", "Bearer " + jwt}}), 403,
                "forbidden");
  // Eligibility at activation: the audience (read from the member's features), then channel.
  ExpectProblem(c.Request("POST", "/v1/members/m-1/offers/c-gold/activate", R"({"channel":"web"})", As("storefront")), 409,
                "not_eligible");
  ExpectProblem(c.Request("POST", "/v1/members/m-new/offers/c-silver/activate", R"({"channel":"web"})", As("storefront")),
                409, "not_eligible");  // no features yet: a targeted offer is not offered
  ExpectProblem(c.Request("POST", "/v1/members/m-1/offers/c-web/activate", R"({"channel":"app"})", As("storefront")), 409,
                "not_eligible");
  EXPECT_EQ(c.Request("POST", "/v1/members/m-new/offers/c-open/activate", R"({"channel":"web"})", As("storefront")).status,
            201)
      << "an offer open to all needs no features";

  // The store redeems with the quote the app received; the bonus arrives in rewards.
  const std::string quote = List(c, "m-1", "app", "pos")["decision_id"];
  auto redeemed = c.Request("POST", "/v1/members/m-1/offers/c-silver/redeem",
                            json({{"order_id", "o-2"}, {"channel", "store"}, {"decision_id", quote}}).dump(), As("pos", "r-1"));
  ASSERT_EQ(redeemed.status, 201) << redeemed.body;
  EXPECT_TRUE(WaitFor([&] { return rewards.Get("/v1/members/m-1", As("pos")).Json()["points"]["available"] == 2100; },
                      std::chrono::seconds(30)));
  EXPECT_EQ(List(c, "m-1", "web")["offers"][1]["state"], "redeemed");
}

TEST_F(OffersServiceTest, BudgetHoldsUnderTwoHundredConcurrentRedeemers) {
  auto c = Offers();
  CreateAndPublish(c, Campaign("c-budget", {{"limits", {{"total_redemptions", 50}}}}));
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 200; ++i) {
    threads.emplace_back([&, i] {
      HttpClient hc(offers_->BaseUrl());
      auto r = hc.Request("POST", "/v1/members/m-" + std::to_string(i) + "/offers/c-budget/redeem",
                          R"({"order_id":"o-1","channel":"web"})", As("pos", "k-" + std::to_string(i)));
      if (r.status == 201) ok++;
      else if (r.status == 409 && r.Json()["code"] == "budget_exhausted") exhausted++;
      else other++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(exhausted.load(), 150);
  EXPECT_EQ(other.load(), 0);
  auto stats = c.Get("/v1/campaigns/c-budget/stats", As("ops")).Json();
  EXPECT_EQ(stats["redeemed"], 50);
  EXPECT_EQ(stats["budget_left"]["redemptions_left"], 0);
}

// Identifiers may contain ':', so "a" with order "b:c" and "a:b" with order "c" once spelled the
// same natural-key record ("a:b:c") and the second redemption was answered as a replay of the
// first: no reward, another campaign's answer.
TEST_F(OffersServiceTest, CampaignAndOrderIdsThatSpellTheSameRecordAreTwoRedemptions) {
  auto c = Offers();
  CreateAndPublish(c, Campaign("a"));
  CreateAndPublish(c, Campaign("a:b"));
  auto first =
      c.Request("POST", "/v1/members/m-1/offers/a/redeem", R"({"order_id":"b:c","channel":"store"})", As("pos", "k-1"));
  ASSERT_EQ(first.status, 201) << first.body;
  auto second =
      c.Request("POST", "/v1/members/m-1/offers/a:b/redeem", R"({"order_id":"c","channel":"store"})", As("pos", "k-2"));
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_FALSE(second.headers.count("idempotent-replayed")) << second.body;
  EXPECT_EQ(second.Json()["campaign_id"], "a:b");
  EXPECT_EQ(second.Json()["order_id"], "c");
  EXPECT_NE(second.Json()["redemption_id"], first.Json()["redemption_id"]);
  // Each pair is still redeemed once: a retry under a new key is answered with its own first answer.
  const std::tuple<std::string, std::string, HttpResult> pairs[] = {
      {"/v1/members/m-1/offers/a/redeem", R"({"order_id":"b:c","channel":"store"})", first},
      {"/v1/members/m-1/offers/a:b/redeem", R"({"order_id":"c","channel":"store"})", second}};
  for (const auto& [path, body, original] : pairs) {
    auto retry = c.Request("POST", path, body, As("pos", "retry-" + path));
    EXPECT_EQ(retry.status, 201) << retry.body;
    EXPECT_TRUE(retry.headers.count("idempotent-replayed")) << path;
    EXPECT_EQ(retry.Json()["redemption_id"], original.Json()["redemption_id"]) << path;
  }
  EXPECT_EQ(c.Get("/v1/campaigns/a/stats", As("ops")).Json()["redeemed"], 1);
  EXPECT_EQ(c.Get("/v1/campaigns/a:b/stats", As("ops")).Json()["redeemed"], 1);
}

TEST_F(OffersServiceTest, PerMemberLimitHoldsUnderConcurrentRetriesFromThreeChannels) {
  auto c = Offers();
  CreateAndPublish(c, Campaign("c-once", {{"limits", {{"per_member", 1}}}}));
  std::atomic<int> ok{0}, limited{0}, replayed{0}, other{0};
  std::vector<std::thread> threads;
  for (const std::string ch : {"web", "app", "store"}) {
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, ch, t] {
        HttpClient hc(offers_->BaseUrl());
        const std::string key = ch + "-" + std::to_string(t % 2);  // two threads retry each key
        auto r = hc.Request("POST", "/v1/members/m-1/offers/c-once/redeem",
                            json({{"order_id", "o-" + ch + std::to_string(t % 2)}, {"channel", ch}}).dump(), As("pos", key));
        if (r.status == 201 && r.headers.count("idempotent-replayed")) replayed++;
        else if (r.status == 201) ok++;
        else if (r.status == 409 && (r.Json()["code"] == "offer_limit_reached" || r.Json()["code"] == "request_in_progress")) limited++;
        else if (r.status == 409 && r.headers.count("idempotent-replayed")) replayed++;
        else other++;
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1) << "exactly one redemption for the member";
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(c.Get("/v1/campaigns/c-once/stats", As("ops")).Json()["redeemed"], 1);
}

TEST_F(OffersServiceTest, RulesVersionsAndQuotesAreChecked) {
  auto c = Offers();
  auto bad = c.Request("POST", "/v1/campaigns",
                       Campaign("c-bad", {{"audience", json::parse(R"({"and":[{"==":[{"var":"tire"},"gold"]}]})")}}).dump(), As("ops"));
  ExpectProblem(bad, 400, "validation_failed");
  EXPECT_EQ(bad.Json()["field"], "/audience/and/0/==/0/var");
  EXPECT_NE(bad.Json()["detail"].get<std::string>().find("unknown feature 'tire'"), std::string::npos);
  ExpectProblem(c.Request("POST", "/v1/campaigns", Campaign("c-x", {{"reward", {{"type", "percent_off"}, {"percent", 150}}}}).dump(),
                          As("ops")),
                400, "validation_failed");
  ExpectProblem(c.Request("POST", "/v1/campaigns", Campaign("c-y").dump(), As("storefront")), 403, "forbidden");
  auto locale = c.Request("POST", "/v1/campaigns",
                          Campaign("c-z", {{"content", {{"en", {{"title", "t"}}}, {"fr FR", {{"title", "t"}}}}}}).dump(), As("ops"));
  ExpectProblem(locale, 400, "validation_failed");
  EXPECT_EQ(locale.Json()["field"], "/content/fr FR");
  auto query = c.Get("/v1/members/m-1/offers?channel=web&locale=%E9%E9", As("storefront"));
  ExpectProblem(query, 400, "validation_failed");
  EXPECT_EQ(query.Json()["field"], "/query/locale");

  CreateAndPublish(c, Campaign("c-q", {{"reward", {{"type", "bonus_points"}, {"points", 500}}}}));
  ExpectProblem(c.Request("POST", "/v1/campaigns", Campaign("c-q").dump(), As("ops")), 409, "campaign_exists");
  const std::string quote = List(c, "m-1", "web")["decision_id"];
  // Marketing edits the campaign: version 2 gives less. A stale edit is refused.
  auto v2 = Campaign("c-q", {{"reward", {{"type", "bonus_points"}, {"points", 50}}}});
  ExpectProblem(c.Request("PUT", "/v1/campaigns/c-q", v2.dump(), As("ops")), 428, "precondition_required");
  auto put = c.Request("PUT", "/v1/campaigns/c-q", v2.dump(), [] { auto h = As("ops"); h["If-Match"] = "\"1\""; return h; }());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Json()["version"], 2);
  ExpectProblem(c.Request("PUT", "/v1/campaigns/c-q", v2.dump(), [] { auto h = As("ops"); h["If-Match"] = "1"; return h; }()), 412,
                "precondition_failed");
  // The quote is honoured as quoted (version 1, 500 points), a tampered one is refused.
  std::string tampered = quote;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  ExpectProblem(c.Request("POST", "/v1/members/m-1/offers/c-q/redeem",
                          json({{"order_id", "o-1"}, {"channel", "store"}, {"decision_id", tampered}}).dump(), As("pos", "t-1")),
                422, "invalid_quote");
  auto honoured = c.Request("POST", "/v1/members/m-1/offers/c-q/redeem",
                            json({{"order_id", "o-1"}, {"channel", "store"}, {"decision_id", quote}}).dump(), As("pos", "t-2"));
  ASSERT_EQ(honoured.status, 201) << honoured.body;
  EXPECT_EQ(honoured.Json()["reward"]["points"], 500);
  EXPECT_EQ(honoured.Json()["campaign_version"], 1);
  ExpectProblem(c.Request("POST", "/v1/members/m-2/offers/c-q/redeem",
                          json({{"order_id", "o-1"}, {"channel", "store"}, {"decision_id", quote}}).dump(), As("pos", "t-3")),
                422, "invalid_quote");
  // Lifecycle: paused and ended offers are refused with their codes.
  ASSERT_EQ(c.Request("POST", "/v1/campaigns/c-q/pause", "", As("ops")).status, 200);
  ExpectProblem(c.Request("POST", "/v1/members/m-3/offers/c-q/redeem", R"({"order_id":"o-1","channel":"web"})", As("pos", "t-4")),
                409, "offer_paused");
  ASSERT_EQ(c.Request("POST", "/v1/campaigns/c-q/end", "", As("ops")).status, 200);
  ExpectProblem(c.Request("POST", "/v1/members/m-3/offers/c-q/redeem", R"({"order_id":"o-1","channel":"web"})", As("pos", "t-5")),
                410, "offer_ended");
  ExpectProblem(c.Request("POST", "/v1/campaigns/c-q/publish", "", As("ops")), 409, "invalid_transition");
  ExpectProblem(c.Request("POST", "/v1/members/m-3/offers/c-q/redeem", R"({"order_id":"o-1","channel":"web"})", As("pos")), 400,
                "idempotency_key_required");
}

TEST_F(OffersServiceTest, HoldoutMembersAreWithheldAndCounted) {
  auto c = Offers();
  CreateAndPublish(c, Campaign("c-holdout", {{"holdout_percent", 50}}));
  int shown = 0;
  for (int i = 0; i < 100; ++i) shown += static_cast<int>(List(c, "m-" + std::to_string(i), "web")["offers"].size());
  auto stats = c.Get("/v1/campaigns/c-holdout/stats", As("ops")).Json();
  EXPECT_EQ(stats["offered"], shown);
  EXPECT_NEAR(stats["holdout_size"].get<int>(), 100 - shown, 2);  // HyperLogLog
  EXPECT_GT(shown, 30);
  EXPECT_LT(shown, 70);
}

TEST_F(OffersServiceTest, ACampaignPublishedOnOneReplicaIsOfferedByAnotherWithinOneSecond) {
  auto second = std::make_unique<ServiceProcess>("offers", env_);
  auto a = Offers();
  HttpClient b(second->BaseUrl());
  // Warm up: both replicas follow campaign events.
  CreateAndPublish(a, Campaign("c-warm"));
  ASSERT_TRUE(WaitFor([&] { return !Ids(List(b, "m-1", "web")).empty(); }, std::chrono::seconds(40)));
  ASSERT_EQ(a.Request("POST", "/v1/campaigns", Campaign("c-new").dump(), As("ops")).status, 201);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(a.Request("POST", "/v1/campaigns/c-new/publish", "", As("ops")).status, 200);
  const bool seen = WaitFor([&] {
    auto ids = Ids(List(b, "m-1", "web"));
    return std::find(ids.begin(), ids.end(), "c-new") != ids.end();
  }, std::chrono::seconds(5), std::chrono::milliseconds(5));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ replica  ] campaign published on replica A offered by replica B after " << ms << " ms" << std::endl;
  ASSERT_TRUE(seen);
  EXPECT_LT(ms, 1000);
  // Pausing propagates the same way.
  ASSERT_EQ(a.Request("POST", "/v1/campaigns/c-new/pause", "", As("ops")).status, 200);
  EXPECT_TRUE(WaitFor([&] {
    auto ids = Ids(List(b, "m-1", "web"));
    return std::find(ids.begin(), ids.end(), "c-new") == ids.end();
  }, std::chrono::seconds(1), std::chrono::milliseconds(5)));
}

// A member's offer states of ended and archived campaigns can never be used again (activating
// or redeeming them is a 410), so the listing that reads them removes them: a member's states
// stay bounded by the campaigns still running. A state of a campaign this replica does not know
// is kept.
TEST_F(OffersServiceTest, StatesOfEndedAndArchivedCampaignsAreRemovedByTheNextListing) {
  auto c = Offers();
  for (const char* id : {"c-ended", "c-archived", "c-running"}) {
    CreateAndPublish(c, Campaign(id));
    ASSERT_EQ(c.Request("POST", std::string("/v1/members/m-7/offers/") + id + "/activate", R"({"channel":"web"})",
                        As("storefront"))
                  .status,
              201);
  }
  // Redemptions leave natural-key records. "c-ended" with order "x:1" and "c-ended:x" (still
  // running) with order "1" spell the same field; each record goes with its own campaign.
  CreateAndPublish(c, Campaign("c-ended:x"));
  const std::string records = MemberKey("m-7", "offer-redemptions");
  for (const auto& [id, order] : std::vector<std::pair<std::string, std::string>>{
           {"c-ended", "x:1"}, {"c-ended:x", "1"}, {"c-archived", "o-2"}, {"c-running", "o-3"}}) {
    ASSERT_EQ(c.Request("POST", "/v1/members/m-7/offers/" + id + "/redeem",
                        json({{"order_id", order}, {"channel", "store"}}).dump(), As("pos", "r-" + id + order))
                  .status,
              201);
  }
  ASSERT_EQ(redis_.Cli({"HLEN", records}), "4");
  const std::string key = CachedMemberKey("m-7", "offers");
  redis_.Cli({"HSET", key, "c-not-known", R"({"version":1,"activated_at":1})"});
  const auto fields = [&] {  // the member's states, of these four campaigns
    std::set<std::string> out;
    for (const char* id : {"c-ended", "c-archived", "c-running", "c-not-known"}) {
      if (redis_.Cli({"HEXISTS", key, id}) == "1") out.insert(id);
    }
    return out;
  };
  ASSERT_EQ(fields().size(), 4u);
  ASSERT_EQ(c.Request("POST", "/v1/campaigns/c-ended/end", "", As("ops")).status, 200);
  ASSERT_EQ(c.Request("POST", "/v1/campaigns/c-archived/end", "", As("ops")).status, 200);
  ASSERT_EQ(c.Request("POST", "/v1/campaigns/c-archived/archive", "", As("ops")).status, 200);

  EXPECT_EQ(Ids(List(c, "m-7", "web")), (std::vector<std::string>{"c-ended:x", "c-running"}));
  EXPECT_EQ(fields(), (std::set<std::string>{"c-not-known", "c-running"}));
  // The records of the ended and archived campaigns' redemptions went with their states.
  EXPECT_EQ(redis_.Cli({"HLEN", records}), "2");
  EXPECT_EQ(redis_.Cli({"HEXISTS", records, "c-running:o-3"}), "1");
  auto again = c.Request("POST", "/v1/members/m-7/offers/c-ended:x/redeem", R"({"order_id":"1","channel":"store"})",
                         As("pos", "r-again"));
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_TRUE(again.headers.count("idempotent-replayed")) << "the running campaign's record is kept";
  EXPECT_EQ(again.Json()["campaign_id"], "c-ended:x") << again.body;
  const json on_app = List(c, "m-7", "app");
  ASSERT_EQ(on_app["offers"].size(), 2u) << on_app.dump();
  EXPECT_EQ(on_app["offers"][1]["offer_id"], "c-running");
  EXPECT_EQ(on_app["offers"][1]["state"], "redeemed") << "the running campaign's state is kept";
  ExpectProblem(c.Request("POST", "/v1/members/m-7/offers/c-ended/activate", R"({"channel":"web"})", As("storefront")),
                410, "offer_ended");
  EXPECT_EQ(fields().size(), 2u) << "a refused activation writes nothing";
}

TEST_F(OffersServiceTest, ACampaignThatCannotBeReadIsLeftOutAndTheOthersStillChange) {
  auto c = Offers();
  CreateAndPublish(c, Campaign("c-ok"));
  CreateAndPublish(c, Campaign("c-broken"));
  ASSERT_EQ(Ids(List(c, "m-1", "web")).size(), 2u);
  // c-broken's stored document is damaged (a bad migration, a hand edit), then ops publish another.
  redis_.Cli({"HSET", "tessera:" + GlobalTag("offers") + ":campaign:c-broken", "doc", "{not json"});
  CreateAndPublish(c, Campaign("c-new"));
  EXPECT_TRUE(WaitFor([&] { return Ids(List(c, "m-1", "web")) == std::vector<std::string>{"c-new", "c-ok"}; },
                      std::chrono::seconds(5)))
      << List(c, "m-1", "web").dump();
  EXPECT_NE(c.Get("/metrics", {}).body.find("tessera_offers_unreadable_campaigns 1"), std::string::npos);
  // Pausing a readable campaign still reaches the listing.
  ASSERT_EQ(c.Request("POST", "/v1/campaigns/c-ok/pause", "", As("ops")).status, 200);
  EXPECT_TRUE(WaitFor([&] { return Ids(List(c, "m-1", "web")) == std::vector<std::string>{"c-new"}; },
                      std::chrono::seconds(5)));
}

// A damaged document repaired in place (its revision unchanged) is read again at the next
// reload, as the 30 s reload does it.
TEST_F(OffersServiceTest, ACampaignRepairedInPlaceIsServedAgainAtTheNextReload) {
  auto c = Offers();
  CreateAndPublish(c, Campaign("c-fixed"));
  const std::string key = "tessera:" + GlobalTag("offers") + ":campaign:c-fixed";
  const std::string good = redis_.Cli({"HGET", key, "doc"});
  RedisOptions o;
  o.url = ParseRedisUrl(redis_.Url());
  RedisPool pool(o);
  OffersStore store(pool);
  ManualClock clock(SystemClock().Now());
  std::ostringstream log;
  Logger logger("test", LogLevel::kError, log, clock);
  CampaignCache cache(store, logger);
  redis_.Cli({"HSET", key, "doc", "{not json"});
  cache.Reload();
  EXPECT_EQ(cache.unreadable(), 1u);
  EXPECT_EQ(cache.Find("c-fixed"), nullptr);
  redis_.Cli({"HSET", key, "doc", good});
  cache.Reload();
  EXPECT_EQ(cache.unreadable(), 0u);
  ASSERT_NE(cache.Find("c-fixed"), nullptr);
  EXPECT_EQ(cache.Find("c-fixed")->campaign_id, "c-fixed");
}

// redeem.lua writes its idempotency record as a string under the key it is given: without one
// the store refuses before Redis, instead of writing over another of the member's keys.
TEST_F(OffersServiceTest, AStoreRedemptionWithoutItsRecordKeyIsRefusedBeforeRedis) {
  RedisOptions o;
  o.url = ParseRedisUrl(redis_.Url());
  RedisPool pool(o);
  OffersStore store(pool);
  const std::string keys_before = redis_.Cli({"DBSIZE"});
  RedeemRequest r;
  r.member_id = "m-1";
  r.campaign_id = "c-1";
  r.order_id = "o-1";
  r.event = "{}";
  r.response_body = "{}";
  r.request_hash = "h";
  EXPECT_THROW(store.Redeem(r), std::logic_error);
  EXPECT_EQ(redis_.Cli({"DBSIZE"}), keys_before);
}

// Each replica answers offers lists from memory (docs/offers.md, "Listing cache"). Every change
// made through one replica, or straight in Redis, must show on the other in its next answer.
TEST_F(OffersServiceTest, ListsAnsweredFromMemoryShowEveryChangeOnEveryReplicaAtOnce) {
  auto second = std::make_unique<ServiceProcess>("offers", env_);
  auto a = Offers();
  HttpClient b(second->BaseUrl());
  CreateAndPublish(a, Campaign("c-clip", {{"conditions", {{"requires_activation", true}}}, {"priority", 5}}));
  CreateAndPublish(a, Campaign("c-open"));
  ASSERT_TRUE(WaitFor([&] { return Ids(List(b, "m-0", "store", "pos")).size() == 2; }, std::chrono::seconds(40)));
  auto state = [](const json& listing, const std::string& id) {
    for (const auto& o : listing["offers"]) {
      if (o["offer_id"] == id) return o["state"].get<std::string>();
    }
    return std::string("absent");
  };
  auto metric = [&](const std::string& name) { return MetricValue(b.Get("/metrics", {}).body, name); };
  const double hits_before = metric("tessera_offers_listing_cache_hits_total");
  ASSERT_GE(hits_before, 0) << "the listing cache is on by default";
  for (int i = 0; i < 60; ++i) {
    const std::string m = "m-" + std::to_string(i);
    // Replica B answers twice (the second from memory), then replica A activates and redeems.
    ASSERT_EQ(state(List(b, m, "store", "pos"), "c-clip"), "available");
    ASSERT_EQ(state(List(b, m, "store", "pos"), "c-clip"), "available");
    ASSERT_EQ(a.Request("POST", "/v1/members/" + m + "/offers/c-clip/activate", R"({"channel":"app"})", As("storefront")).status, 201);
    ASSERT_EQ(state(List(b, m, "store", "pos"), "c-clip"), "activated") << "member " << m << ": activation not seen at once";
    ASSERT_EQ(a.Request("POST", "/v1/members/" + m + "/offers/c-clip/redeem",
                        json({{"order_id", "o-" + m}, {"channel", "web"}}).dump(), As("pos", "k-" + m))
                  .status,
              201);
    ASSERT_EQ(state(List(b, m, "store", "pos"), "c-clip"), "redeemed") << "member " << m << ": redemption not seen at once";
  }
  EXPECT_GE(metric("tessera_offers_listing_cache_hits_total"), hits_before + 60) << "B answered from memory";
  // An operator's fix straight in Redis (clearing a member's clipped offers) shows as well.
  redis_.Cli({"DEL", CachedMemberKey("m-0", "offers")});
  redis_.Cli({"PING"});
  EXPECT_EQ(state(List(b, "m-0", "store", "pos"), "c-clip"), "available");
  // A campaign change moves every replica's answers within the campaign-follow bound.
  ASSERT_EQ(a.Request("POST", "/v1/campaigns/c-open/pause", "", As("ops")).status, 200);
  EXPECT_TRUE(WaitFor([&] { return state(List(b, "m-1", "store", "pos"), "c-open") == "absent"; }, std::chrono::seconds(1),
                      std::chrono::milliseconds(5)));
}

}  // namespace
}  // namespace tessera::offers
