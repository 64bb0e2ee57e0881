// tessera-rewards as users run it: the binary against a real redis-server and the development
// broker, driven over HTTP and Kafka.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tessera/auth.h"
#include "tessera/crypto.h"
#include "tessera/events.h"
#include "tessera/kafka.h"
#include "tessera/keys.h"
#include "tessera/redis.h"
#include "test_program.h"
#include "testing.h"

namespace tessera::rewards {
namespace {

using namespace tessera::testing;
using Headers = std::map<std::string, std::string>;

Headers As(const std::string& role, const std::string& key = "") {
  Headers h = AuthHeader(role);
  if (!key.empty()) h["Idempotency-Key"] = key;
  return h;
}

std::string Purchase(const std::string& order, int64_t cents, const std::string& channel = "store") {
  return nlohmann::json({{"order_id", order},
                         {"channel", channel},
                         {"store_id", "store-12"},
                         {"occurred_at", FormatRfc3339(SystemClock().Now())},
                         {"currency", "USD"},
                         {"total_minor", cents},
                         {"items", {{{"sku", "sku-1"}, {"category", "misc"}, {"amount_minor", cents}, {"quantity", 1}}}}})
      .dump();
}

class RewardsServiceTest : public ::testing::Test {
 protected:
  // `extra_env` is added to the service's environment.
  explicit RewardsServiceTest(const std::map<std::string, std::string>& extra_env = {}) {
    nlohmann::json program = nlohmann::json::parse(test::kTestProgramJson);
    program["pending_days"] = 0;
    program_file_ = dir_.path() + "/program.json";
    std::ofstream(program_file_) << program.dump();
    env_ = ServiceEnv(redis_, broker_, 0);
    env_["TESSERA_PROGRAM_FILE"] = program_file_;
    env_["TESSERA_HTTP_THREADS"] = "8";
    for (const auto& [k, v] : extra_env) env_[k] = v;
    service_ = std::make_unique<ServiceProcess>("rewards", env_);
  }

  // Batches the commits' Redis pipeline has written (-1: the service runs without one).
  double PipelineBatches() {
    return MetricValue(Client().Get("/metrics", {}).body, "tessera_redis_pipeline_batch_commands_count");
  }
  void RetriesApplyNothingTwice();
  void ConcurrentRedemptionsSpendExactlyTheBalance();

  HttpClient Client() { return HttpClient(service_->BaseUrl()); }
  void Enroll(HttpClient& c, const std::string& member) {
    auto r = c.Request("POST", "/v1/members", nlohmann::json({{"member_id", member}, {"channel", "web"}}).dump(), As("pos"));
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  void Earn(HttpClient& c, const std::string& member, const std::string& order, int64_t cents) {
    auto r = c.Request("POST", "/v1/members/" + member + "/earnings", Purchase(order, cents), As("pos"));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  nlohmann::json Account(HttpClient& c, const std::string& member) {
    return c.Get("/v1/members/" + member, As("pos")).Json();
  }
  nlohmann::json Audit(HttpClient& c, const std::string& member) {
    return c.Get("/v1/members/" + member + "/audit", As("agent")).Json();
  }
  void ExpectProblem(const HttpResult& r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "", "application/problem+json") << r.body;
    EXPECT_EQ(r.Json().value("code", ""), code) << r.body;
  }

  RedisServer redis_;
  DevBroker broker_;
  TempDir dir_;
  std::string program_file_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ServiceProcess> service_;
};

TEST_F(RewardsServiceTest, EnrollEarnRedeemAndReadTheAccount) {
  auto c = Client();
  auto created = c.Request("POST", "/v1/members",
                           R"({"member_id":"m-1","channel":"web","locale":"ja","time_zone":"Asia/Tokyo","profile":{"name":"Yuki"}})",
                           As("storefront"));
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.Json()["tier"], "member");
  EXPECT_EQ(c.Request("POST", "/v1/members", R"({"member_id":"m-1","channel":"app"})", As("pos")).status, 200);

  const std::string purchase = Purchase("o-1", 12345, "app");
  auto earned = c.Request("POST", "/v1/members/m-1/earnings", purchase, As("pos"));
  ASSERT_EQ(earned.status, 201) << earned.body;
  EXPECT_EQ(earned.Json()["points"], 1851);  // $123.45 x10 = 1234 base; app x1.5 -> 1851; silver from here
  EXPECT_EQ(earned.Json()["tier"], "silver");
  auto replay = c.Request("POST", "/v1/members/m-1/earnings", purchase, As("pos"));
  EXPECT_EQ(replay.headers["idempotent-replayed"], "true");
  EXPECT_EQ(replay.body, earned.body);

  auto redeemed = c.Request("POST", "/v1/members/m-1/redemptions", R"({"points":500,"channel":"store","reward_id":"coffee"})",
                            As("pos", "r-1"));
  ASSERT_EQ(redeemed.status, 201) << redeemed.body;
  auto account = Account(c, "m-1");
  EXPECT_EQ(account["points"]["available"], 1351);
  EXPECT_EQ(account["points"]["lifetime"], 1851);
  EXPECT_EQ(account["tier"], "silver");
  EXPECT_EQ(account["version"], 4);  // enrolled, earned, tier.changed, redeemed
  ASSERT_EQ(account["expiring"].size(), 1u);
  EXPECT_EQ(account["expiring"][0]["points"], 1351);

  auto ledger = c.Get("/v1/members/m-1/ledger?limit=2", As("storefront")).Json();
  ASSERT_EQ(ledger["entries"].size(), 2u);
  EXPECT_EQ(ledger["entries"][0]["type"], "points.redeemed");
  EXPECT_EQ(ledger["entries"][0]["points"], -500);
  EXPECT_EQ(ledger["entries"][0]["balance_after"], 1351);
  auto rest = c.Get("/v1/members/m-1/ledger?limit=2&cursor=" + ledger["next_cursor"].get<std::string>(), As("pos")).Json();
  ASSERT_EQ(rest["entries"].size(), 2u);
  EXPECT_EQ(rest["entries"][1]["type"], "member.enrolled");
  EXPECT_TRUE(rest["next_cursor"].is_null());
  EXPECT_TRUE(Audit(c, "m-1")["consistent"].get<bool>());
  EXPECT_EQ(c.Get("/v1/program", As("ops")).Json()["program_id"], "test");
}

TEST_F(RewardsServiceTest, BadInputIsAClear4xxAndChangesNothing) {
  auto c = Client();
  Enroll(c, "m-1");
  Earn(c, "m-1", "o-1", 1000);
  const std::string path = "/v1/members/m-1/redemptions";
  ExpectProblem(c.Request("POST", path, R"({"points":1,"channel":"web"})", As("pos")), 400, "idempotency_key_required");
  ExpectProblem(c.Request("POST", path, R"({"points":1,"channel":"web"})", As("pos", std::string(129, 'k'))), 400,
                "idempotency_key_invalid");
  ExpectProblem(c.Request("POST", path, R"({"points":1,"channel":"web"})", As("pos", "tab\tkey")), 400,
                "idempotency_key_invalid");
  ExpectProblem(c.Request("POST", path, "{oops", As("pos", "k1")), 400, "malformed_json");
  ExpectProblem(c.Request("POST", path, R"({"points":"1","channel":"web"})", As("pos", "k2")), 400, "validation_failed");
  ExpectProblem(c.Request("POST", path, R"({"points":0,"channel":"web"})", As("pos", "k3")), 400, "validation_failed");
  ExpectProblem(c.Request("POST", path, R"({"points":1e30,"channel":"web"})", As("pos", "k4")), 400, "validation_failed");
  ExpectProblem(c.Request("POST", path, R"({"points":1,"channel":"fax"})", As("pos", "k5")), 400, "validation_failed");
  auto unknown = c.Request("POST", path, R"({"points":1,"channel":"web","bonus":true})", As("pos", "k6"));
  ExpectProblem(unknown, 400, "validation_failed");
  EXPECT_EQ(unknown.Json()["field"], "/bonus");
  ExpectProblem(c.Request("POST", path, R"({"points":1000000,"channel":"web"})", As("pos", "k7")), 409, "insufficient_points");
  ExpectProblem(c.Request("POST", "/v1/members/nobody/redemptions", R"({"points":1,"channel":"web"})", As("pos", "k8")),
                404, "member_not_found");
  ExpectProblem(c.Request("POST", "/v1/members/bad%20id/redemptions", R"({"points":1,"channel":"web"})", As("pos", "k9")),
                400, "validation_failed");
  ExpectProblem(c.Request("POST", path, "{\"pad\":\"" + std::string(70000, 'x') + "\"}", As("pos", "k10")), 413,
                "payload_too_large");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/earnings",
                          R"({"order_id":"o-2","channel":"web","occurred_at":"yesterday","currency":"USD","total_minor":5})",
                          As("pos")),
                400, "validation_failed");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/earnings",
                          R"({"order_id":"o-2","channel":"web","occurred_at":"2026-01-01T00:00:00Z","currency":"XYZ","total_minor":5})",
                          As("pos")),
                400, "validation_failed");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/holds", R"({"points":1,"channel":"store","ttl_seconds":901})", As("pos", "h")),
                400, "validation_failed");
  // An enrollment's locale and time zone are checked before anything is written.
  auto locale = c.Request("POST", "/v1/members", R"({"member_id":"m-2","channel":"web","locale":"en US"})", As("pos"));
  ExpectProblem(locale, 400, "validation_failed");
  EXPECT_EQ(locale.Json()["field"], "/locale");
  auto zone = c.Request("POST", "/v1/members", R"({"member_id":"m-2","channel":"web","time_zone":"Mars/Olympus_Mons"})", As("pos"));
  ExpectProblem(zone, 400, "validation_failed");
  EXPECT_EQ(zone.Json()["field"], "/time_zone");
  ExpectProblem(c.Get("/v1/members/m-2", As("pos")), 404, "member_not_found");
  // Nothing above changed the account.
  auto account = Account(c, "m-1");
  EXPECT_EQ(account["points"]["available"], 100);
  EXPECT_EQ(account["version"], 2);
}

TEST_F(RewardsServiceTest, RolesAndMemberScopedAppTokens) {
  auto c = Client();
  Enroll(c, "m-1");
  Enroll(c, "m-2");
  Earn(c, "m-1", "o-1", 1000);
  const auto now = SystemClock().Now();
  const std::string jwt = MakeAppJwt(kDevJwtSecret, "m-1", now, now + std::chrono::hours(1));
  Headers app = {{"Authorization", "Bearer " + jwt}, {"Idempotency-Key", "app-1"}};
  EXPECT_EQ(c.Request("POST", "/v1/members/m-1/redemptions", R"({"points":10,"channel":"app"})", app).status, 201);
  ExpectProblem(c.Request("POST", "/v1/members/m-2/redemptions", R"({"points":10,"channel":"app"})", app), 403, "forbidden");
  ExpectProblem(c.Get("/v1/members/m-2", {{"Authorization", "Bearer " + jwt}}), 403, "forbidden");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/earnings", Purchase("o-9", 100), {{"Authorization", "Bearer " + jwt}}),
                403, "forbidden");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/redemptions", R"({"points":10,"channel":"web"})", As("storefront", "s")),
                403, "forbidden");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/adjustments",
                          R"({"points":10,"reason_code":"goodwill","note":"x","agent_id":"a-1"})", As("pos", "adj")),
                403, "forbidden");
  ExpectProblem(c.Get("/v1/members/m-1"), 401, "unauthorized");
  EXPECT_EQ(c.Get("/v1/members/m-1", As("storefront")).status, 200);
}

TEST_F(RewardsServiceTest, HoldsCaptureAndRelease) {
  auto c = Client();
  Enroll(c, "m-1");
  Earn(c, "m-1", "o-1", 10000);  // 1000
  auto hold = c.Request("POST", "/v1/members/m-1/holds", R"({"points":300,"channel":"store","store_id":"s-1","ttl_seconds":600})",
                        As("pos", "h-1"));
  ASSERT_EQ(hold.status, 201) << hold.body;
  const std::string hold_id = hold.Json()["hold_id"];
  auto account = Account(c, "m-1");
  EXPECT_EQ(account["points"]["available"], 700);
  EXPECT_EQ(account["points"]["held"], 300);
  auto captured = c.Request("POST", "/v1/members/m-1/holds/" + hold_id + "/capture", "", As("pos"));
  ASSERT_EQ(captured.status, 200) << captured.body;
  EXPECT_EQ(captured.Json()["status"], "captured");
  auto again = c.Request("POST", "/v1/members/m-1/holds/" + hold_id + "/capture", "", As("pos"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.Json()["redemption_id"], captured.Json()["redemption_id"]) << "capture is idempotent";
  ExpectProblem(c.Request("POST", "/v1/members/m-1/holds/" + hold_id + "/release", "", As("pos")), 409, "hold_not_active");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/holds/nope/capture", "", As("pos")), 404, "hold_not_found");

  auto h2 = c.Request("POST", "/v1/members/m-1/holds", R"({"points":200,"channel":"store","ttl_seconds":600})", As("pos", "h-2"));
  const std::string h2_id = h2.Json()["hold_id"];
  EXPECT_EQ(c.Request("POST", "/v1/members/m-1/holds/" + h2_id + "/release", "", As("pos")).status, 200);
  EXPECT_EQ(c.Request("POST", "/v1/members/m-1/holds/" + h2_id + "/release", "", As("pos")).Json()["status"], "released");
  account = Account(c, "m-1");
  EXPECT_EQ(account["points"]["available"], 700);
  EXPECT_EQ(account["points"]["held"], 0);
  // A hold may only act on the version the customer saw.
  auto stale = c.Request("POST", "/v1/members/m-1/holds", R"({"points":1,"channel":"store","ttl_seconds":60})",
                         [&] { auto h = As("pos", "h-3"); h["If-Match"] = "1"; return h; }());
  ExpectProblem(stale, 412, "precondition_failed");
  EXPECT_TRUE(Audit(c, "m-1")["consistent"].get<bool>());
}

TEST_F(RewardsServiceTest, ReversalsAdjustmentsAndNotes) {
  auto c = Client();
  Enroll(c, "m-1");
  Earn(c, "m-1", "o-1", 10000);  // 1000 points on $100
  auto rev = c.Request("POST", "/v1/members/m-1/reversals", R"({"order_id":"o-1","refund_minor":2500,"reason":"returned"})",
                       As("pos", "rev-1"));
  ASSERT_EQ(rev.status, 201) << rev.body;
  EXPECT_EQ(rev.Json()["points"], 250);
  ExpectProblem(c.Request("POST", "/v1/members/m-1/reversals", R"({"order_id":"o-1","refund_minor":9000,"reason":"x"})",
                          As("pos", "rev-2")),
                422, "refund_exceeds_order");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/reversals", R"({"order_id":"o-404","refund_minor":1,"reason":"x"})",
                          As("pos", "rev-3")),
                404, "order_not_found");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/reversals", R"({"order_id":"o-1","redemption_id":"r","reason":"x"})",
                          As("pos", "rev-4")),
                400, "validation_failed");
  auto red = c.Request("POST", "/v1/members/m-1/redemptions", R"({"points":100,"channel":"web"})", As("pos", "r-1"));
  const std::string rid = red.Json()["redemption_id"];
  auto cancel = c.Request("POST", "/v1/members/m-1/reversals",
                          nlohmann::json({{"redemption_id", rid}, {"reason", "order cancelled"}}).dump(), As("agent", "rev-5"));
  ASSERT_EQ(cancel.status, 201) << cancel.body;
  EXPECT_EQ(Account(c, "m-1")["points"]["available"], 750);

  auto adj = c.Request("POST", "/v1/members/m-1/adjustments",
                       R"({"points":200,"reason_code":"goodwill","note":"late delivery","agent_id":"agent-7"})", As("agent", "a-1"));
  EXPECT_EQ(adj.status, 201) << adj.body;
  ExpectProblem(c.Request("POST", "/v1/members/m-1/adjustments",
                          R"({"points":1001,"reason_code":"goodwill","note":"x","agent_id":"agent-7"})", As("agent", "a-2")),
                422, "adjustment_cap_exceeded");
  EXPECT_EQ(c.Request("POST", "/v1/members/m-1/adjustments",
                      R"({"points":1000,"reason_code":"goodwill","note":"x","agent_id":"agent-7"})", As("agent", "a-3")).status,
            201);
  ExpectProblem(c.Request("POST", "/v1/members/m-1/adjustments",
                          R"({"points":400,"reason_code":"goodwill","note":"x","agent_id":"agent-7"})", As("agent", "a-4")),
                422, "agent_daily_cap_exceeded");
  EXPECT_EQ(c.Request("POST", "/v1/members/m-1/notes", R"({"agent_id":"agent-7","text":"called about a late parcel"})",
                      As("agent")).status,
            201);
  auto notes = c.Get("/v1/members/m-1/notes", As("agent")).Json();
  ASSERT_EQ(notes["notes"].size(), 1u);
  EXPECT_EQ(notes["notes"][0]["text"], "called about a late parcel");
  auto audit = Audit(c, "m-1");
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
  EXPECT_EQ(audit["ledger_sum"], 1950);
}

void RewardsServiceTest::RetriesApplyNothingTwice() {
  auto c = Client();
  Enroll(c, "m-1");
  Earn(c, "m-1", "o-1", 10000);
  struct Call {
    std::string path, body, key;
  };
  std::vector<Call> calls = {
      {"/v1/members/m-1/redemptions", R"({"points":10,"channel":"web"})", "k-r"},
      {"/v1/members/m-1/holds", R"({"points":10,"channel":"store","ttl_seconds":60})", "k-h"},
      {"/v1/members/m-1/reversals", R"({"order_id":"o-1","refund_minor":1000,"reason":"r"})", "k-v"},
      {"/v1/members/m-1/earnings", Purchase("o-2", 500), ""},
  };
  std::vector<std::string> first;
  for (const auto& call : calls) {
    auto r = c.Request("POST", call.path, call.body, As("pos", call.key));
    ASSERT_EQ(r.status, 201) << call.path << r.body;
    first.push_back(r.body);
  }
  const auto before = Account(c, "m-1");
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < calls.size(); ++i) {
      auto r = c.Request("POST", calls[i].path, calls[i].body, As("pos", calls[i].key));
      EXPECT_EQ(r.status, 201);
      EXPECT_EQ(r.body, first[i]) << "byte for byte";
      EXPECT_EQ(r.headers["idempotent-replayed"], "true");
    }
  }
  EXPECT_EQ(Account(c, "m-1"), before);
  ExpectProblem(c.Request("POST", calls[0].path, R"({"points":11,"channel":"web"})", As("pos", "k-r")), 422,
                "idempotency_key_reused");
}

// SPEC §4 concurrency: one member with balance B; 3 channels x 16 threads send 3B single-point
// redemptions with distinct keys.
void RewardsServiceTest::ConcurrentRedemptionsSpendExactlyTheBalance() {
  constexpr int kBalance = 200;
  {
    auto c = Client();
    Enroll(c, "m-race");
    Earn(c, "m-race", "o-1", kBalance * 10);  // 10 points per dollar: $20.00 -> 200
    ASSERT_EQ(Account(c, "m-race")["points"]["available"], kBalance);
  }
  std::atomic<int> ok{0}, insufficient{0}, other{0};
  std::vector<std::thread> threads;
  const std::vector<std::string> channels = {"web", "app", "store"};
  constexpr int kThreadsPerChannel = 16;
  const int per_thread = 3 * kBalance / (3 * kThreadsPerChannel) + 1;  // >= 3B in total
  for (const auto& ch : channels) {
    for (int t = 0; t < kThreadsPerChannel; ++t) {
      threads.emplace_back([&, ch, t] {
        HttpClient c(service_->BaseUrl());
        for (int i = 0; i < per_thread; ++i) {
          auto r = c.Request("POST", "/v1/members/m-race/redemptions",
                             nlohmann::json({{"points", 1}, {"channel", ch}}).dump(),
                             As("pos", ch + "-" + std::to_string(t) + "-" + std::to_string(i)));
          if (r.status == 201) ok++;
          else if (r.status == 409 && r.Json()["code"] == "insufficient_points") insufficient++;
          else other++;
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  std::cout << "[ race     ] " << threads.size() << " threads, " << ok + insufficient + other << " redemptions: " << ok
            << " accepted, " << insufficient << " insufficient_points, " << other << " other" << std::endl;
  EXPECT_EQ(ok.load(), kBalance);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(insufficient.load(), 3 * kThreadsPerChannel * per_thread - kBalance);
  auto c = Client();
  EXPECT_EQ(Account(c, "m-race")["points"]["available"], 0);
  auto audit = Audit(c, "m-race");
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
}

TEST_F(RewardsServiceTest, RetriesWithTheSameKeyApplyNothingTwice) {
  RetriesApplyNothingTwice();
  EXPECT_GT(PipelineBatches(), 0) << "the cached path commits on the pipeline by default";
}

TEST_F(RewardsServiceTest, ConcurrentRedemptionsFromThreeChannelsSpendExactlyTheBalance) {
  ConcurrentRedemptionsSpendExactlyTheBalance();
  EXPECT_GT(PipelineBatches(), 0);
}

// TESSERA_REDIS_PIPELINE=false: the same routes commit through the pool on the HTTP threads,
// with the same answers and the same exactly-once outcome.
class RewardsServicePoolCommitTest : public RewardsServiceTest {
 protected:
  RewardsServicePoolCommitTest() : RewardsServiceTest({{"TESSERA_REDIS_PIPELINE", "false"}}) {}
};

TEST_F(RewardsServicePoolCommitTest, RetriesWithTheSameKeyApplyNothingTwice) {
  RetriesApplyNothingTwice();
  EXPECT_EQ(PipelineBatches(), -1) << "no pipeline when TESSERA_REDIS_PIPELINE=false";
}

TEST_F(RewardsServicePoolCommitTest, ConcurrentRedemptionsFromThreeChannelsSpendExactlyTheBalance) {
  ConcurrentRedemptionsSpendExactlyTheBalance();
  EXPECT_EQ(PipelineBatches(), -1);
}

TEST_F(RewardsServiceTest, HoldsRacingRedemptionsNeverOverspend) {
  constexpr int kBalance = 150;
  {
    auto c = Client();
    Enroll(c, "m-race");
    Earn(c, "m-race", "o-1", kBalance * 10);
  }
  std::atomic<int> redeemed{0}, held{0}, other{0};
  std::mutex mu;
  std::vector<std::string> hold_ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < 24; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(service_->BaseUrl());
      for (int i = 0; i < 15; ++i) {
        const bool hold = (t + i) % 2 == 0;
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = hold ? c.Request("POST", "/v1/members/m-race/holds", R"({"points":1,"channel":"store","ttl_seconds":600})", As("pos", key))
                      : c.Request("POST", "/v1/members/m-race/redemptions", R"({"points":1,"channel":"app"})", As("pos", key));
        if (r.status == 201) {
          (hold ? held : redeemed)++;
          if (hold) {
            std::lock_guard lock(mu);
            hold_ids.push_back(r.Json()["hold_id"]);
          }
        } else if (r.status != 409) {
          other++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(redeemed + held, kBalance);
  EXPECT_EQ(other.load(), 0);
  auto c = Client();
  auto account = Account(c, "m-race");
  EXPECT_EQ(account["points"]["available"], 0);
  EXPECT_EQ(account["points"]["held"], held.load());
  // Capture half, release the rest, concurrently.
  threads.clear();
  for (size_t i = 0; i < hold_ids.size(); ++i) {
    threads.emplace_back([&, i] {
      HttpClient hc(service_->BaseUrl());
      const std::string action = i % 2 ? "capture" : "release";
      EXPECT_EQ(hc.Request("POST", "/v1/members/m-race/holds/" + hold_ids[i] + "/" + action, "", As("pos")).status, 200);
    });
  }
  for (auto& t : threads) t.join();
  account = Account(c, "m-race");
  EXPECT_EQ(account["points"]["held"], 0);
  EXPECT_EQ(account["points"]["available"], static_cast<int>((hold_ids.size() + 1) / 2));
  EXPECT_TRUE(Audit(c, "m-race")["consistent"].get<bool>());
}

// SPEC §4 crash: kill -9 during a redemption load, restart; every acknowledged redemption is on
// tessera.ledger.v1 exactly once (after dedup by event_id), no event exists for a redemption
// that was not applied, and member_seq has no gap.
TEST_F(RewardsServiceTest, KilledDuringRedemptionLoadLosesAndDuplicatesNothing) {
  constexpr int kMembers = 20;
  {
    auto c = Client();
    for (int m = 0; m < kMembers; ++m) {
      Enroll(c, "m-" + std::to_string(m));
      Earn(c, "m-" + std::to_string(m), "o-" + std::to_string(m), 100000);  // 10 000 points each
    }
  }
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, std::string> acknowledged;  // redemption_id -> member
  std::vector<std::pair<std::string, std::string>> unanswered;  // (member, key) with no answer
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(service_->BaseUrl());
      for (int i = 0; !stop.load(); ++i) {
        const std::string member = "m-" + std::to_string((t * 7 + i) % kMembers);
        const std::string key = "crash-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = c.Request("POST", "/v1/members/" + member + "/redemptions", R"({"points":3,"channel":"store"})",
                           As("pos", key));
        std::lock_guard lock(mu);
        if (r.status == 201) acknowledged[r.Json()["redemption_id"]] = member;
        else if (r.status == 0) unanswered.emplace_back(member, key);
        if (r.status == 0) return;  // the server is gone
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { std::lock_guard lock(mu); return acknowledged.size() > 300; }, std::chrono::seconds(30)));
  service_->process().Signal(SIGKILL);
  service_->process().Wait(std::chrono::seconds(10));
  stop = true;
  for (auto& t : threads) t.join();
  service_ = std::make_unique<ServiceProcess>("rewards", env_);
  // Clients retry what got no answer, with the same key: applied at most once.
  {
    auto c = Client();
    for (const auto& [member, key] : unanswered) {
      auto r = c.Request("POST", "/v1/members/" + member + "/redemptions", R"({"points":3,"channel":"store"})", As("pos", key));
      ASSERT_TRUE(r.status == 201 || r.status == 409) << r.body;  // 409: the first is still marked in flight
      if (r.status == 201) acknowledged[r.Json()["redemption_id"]] = member;
    }
  }
  // Wait for the outbox to drain, then read the topic.
  RedisOptions ro;
  ro.url = ParseRedisUrl(redis_.Url());
  RedisPool pool(ro);
  ASSERT_TRUE(WaitFor([&] {
    int64_t depth = 0;
    for (const auto& s : OutboxStreams("rewards")) depth += pool.Command({"XLEN", s}).AsInt();
    return depth == 0;
  }, std::chrono::seconds(60)));
  std::map<std::string, int64_t> ledger_sizes;
  size_t expected_events = 0;
  auto c = Client();
  for (int m = 0; m < kMembers; ++m) {
    const int64_t v = Account(c, "m-" + std::to_string(m))["version"];
    ledger_sizes["m-" + std::to_string(m)] = v;
    expected_events += static_cast<size_t>(v);
    EXPECT_TRUE(Audit(c, "m-" + std::to_string(m))["consistent"].get<bool>());
  }
  auto msgs = ReadTopic(broker_.brokers(), topics::kLedger, expected_events, std::chrono::seconds(60));
  std::map<std::string, nlohmann::json> by_event_id;
  for (const auto& m : msgs) {
    auto e = nlohmann::json::parse(m.value);
    by_event_id[e["event_id"]] = e;
  }
  std::map<std::string, std::set<int64_t>> seqs;
  std::map<std::string, int> redemption_events;
  for (const auto& [id, e] : by_event_id) {
    seqs[e["member_id"]].insert(e["member_seq"].get<int64_t>());
    if (e["type"] == "points.redeemed") redemption_events[e["payload"]["redemption_id"]]++;
  }
  std::cout << "[ fault    ] SIGKILL during redemption load: " << acknowledged.size() << " acknowledged, "
            << unanswered.size() << " unanswered then retried; topic: " << msgs.size() << " messages, "
            << by_event_id.size() << " distinct events" << std::endl;
  for (const auto& [rid, member] : acknowledged) EXPECT_EQ(redemption_events[rid], 1) << rid;
  for (const auto& [member, n] : ledger_sizes) {
    ASSERT_EQ(static_cast<int64_t>(seqs[member].size()), n) << member;
    EXPECT_EQ(*seqs[member].begin(), 1);
    EXPECT_EQ(*seqs[member].rbegin(), n) << "member_seq has no gap";
  }
  EXPECT_EQ(by_event_id.size(), expected_events) << "every event is a committed ledger change";
}

TEST_F(RewardsServiceTest, PurchaseAndOfferEventsEarnOnceAndPoisonIsDeadLettered) {
  auto c = Client();
  Enroll(c, "m-1");
  std::ostringstream log;
  SystemClock clock;
  Logger logger("test", LogLevel::kError, log, clock);
  MetricsRegistry metrics;
  KafkaProducer producer({broker_.brokers()}, logger, metrics);
  auto publish = [&](const std::string& topic, const std::string& key, const nlohmann::json& v) {
    producer.Publish(topic, key, v.dump(), [](const std::string&) {});
  };
  auto envelope = [&](const std::string& type, nlohmann::json payload) {
    return nlohmann::json{{"event_id", NewUuid()}, {"type", type}, {"schema_version", 1},
                          {"occurred_at", FormatRfc3339(clock.Now())}, {"member_id", "m-1"}, {"channel", "store"},
                          {"source", "pos-12"}, {"correlation_id", "c-1"}, {"causation_id", ""}, {"payload", payload}};
  };
  auto completed = envelope("purchase.completed", nlohmann::json::parse(Purchase("pos-o-1", 5000)));
  publish(topics::kPurchases, "m-1", completed);
  publish(topics::kPurchases, "m-1", completed);  // redelivered
  auto again = completed;
  again["event_id"] = NewUuid();  // the POS retried with a new event id: the order id still dedupes
  publish(topics::kPurchases, "m-1", again);
  ASSERT_TRUE(WaitFor([&] { return Account(c, "m-1")["points"]["available"] == 500; }, std::chrono::seconds(30)));
  publish(topics::kPurchases, "m-1", envelope("purchase.refunded", {{"order_id", "pos-o-1"}, {"refund_minor", 1000}}));
  publish(topics::kOffers, "m-1",
          envelope("offer.redeemed", {{"campaign_id", "c-9"}, {"offer_id", "c-9"}, {"order_id", "pos-o-1"},
                                      {"reward", {{"type", "bonus_points"}, {"points", 250}}}}));
  publish(topics::kPurchases, "m-1", envelope("purchase.completed", {{"order_id", "bad"}, {"total_minor", "lots"}}));
  // Purchases and offer redemptions older than the claim window (365 days) earn nothing: their
  // records may already be gone, so they could otherwise earn twice.
  const std::string two_years_ago = FormatRfc3339(clock.Now() - std::chrono::hours(24 * 730));
  auto old_purchase = nlohmann::json::parse(Purchase("pos-o-old", 5000));
  old_purchase["occurred_at"] = two_years_ago;
  publish(topics::kPurchases, "m-1", envelope("purchase.completed", old_purchase));
  auto old_offer = envelope("offer.redeemed", {{"campaign_id", "c-9"}, {"offer_id", "c-9"}, {"order_id", "pos-o-old"},
                                               {"reward", {{"type", "bonus_points"}, {"points", 250}}}});
  old_offer["occurred_at"] = two_years_ago;
  publish(topics::kOffers, "m-1", old_offer);
  ASSERT_TRUE(producer.Flush(std::chrono::seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return Account(c, "m-1")["points"]["available"] == 500 - 100 + 250; }, std::chrono::seconds(30)))
      << Account(c, "m-1").dump();
  auto dlq = ReadTopic(broker_.brokers(), "tessera.purchases.dlq.v1", 2, std::chrono::seconds(30));
  ASSERT_EQ(dlq.size(), 2u);
  auto record = nlohmann::json::parse(dlq[0].value);
  EXPECT_NE(record["error"].get<std::string>().find("purchase.completed payload invalid"), std::string::npos) << record.dump();
  record = nlohmann::json::parse(dlq[1].value);
  EXPECT_NE(record["error"].get<std::string>().find("outside_claim_window"), std::string::npos) << record.dump();
  auto offers_dlq = ReadTopic(broker_.brokers(), "tessera.offers.dlq.v1", 1, std::chrono::seconds(30));
  ASSERT_EQ(offers_dlq.size(), 1u);
  record = nlohmann::json::parse(offers_dlq[0].value);
  EXPECT_NE(record["error"].get<std::string>().find("outside_claim_window"), std::string::npos) << record.dump();
  auto ledger = c.Get("/v1/members/m-1/ledger", As("pos")).Json();
  std::vector<std::string> types;
  for (const auto& e : ledger["entries"]) types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"points.earned", "points.reversed", "points.earned", "member.enrolled"}));
}

}  // namespace
}  // namespace tessera::rewards

namespace tessera::rewards {
namespace {

TEST_F(RewardsServiceTest, MoneyRoutesAnswer503WhileRedisIsDownAndRecoverByThemselves) {
  auto c = Client();
  Enroll(c, "m-1");
  Earn(c, "m-1", "o-1", 1000);
  redis_.Kill();
  ExpectProblem(c.Request("POST", "/v1/members/m-1/redemptions", R"({"points":10,"channel":"web"})", As("pos", "k-1")), 503,
                "service_unavailable");
  ExpectProblem(c.Request("POST", "/v1/members/m-1/holds", R"({"points":10,"channel":"store","ttl_seconds":60})", As("pos", "k-2")),
                503, "service_unavailable");
  ExpectProblem(c.Get("/v1/members/m-1", As("pos")), 503, "service_unavailable");
  EXPECT_EQ(c.Get("/readyz").status, 503);
  redis_.Start();
  ASSERT_TRUE(WaitFor([&] { return c.Get("/readyz").status == 200; }, std::chrono::seconds(20)));
  // The key of the failed attempt may still be marked in flight for a moment; a new key works at once.
  auto r = c.Request("POST", "/v1/members/m-1/redemptions", R"({"points":10,"channel":"web"})", As("pos", "k-3"));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Account(c, "m-1")["points"]["available"], 90);
}

}  // namespace
}  // namespace tessera::rewards
