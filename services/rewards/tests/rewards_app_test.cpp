// The use cases on the in-memory store: idempotency, If-Match, caps, serialisation of
// concurrent changes, events and the sweep — all with a manual clock.
#include "rewards_app.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>

#include <sstream>
#include <thread>

#include "in_memory_account_store.h"
#include "sweep.h"
#include "test_program.h"
#include "tessera/idempotency.h"

namespace tessera::rewards {
namespace {

class RewardsAppTest : public ::testing::Test {
 protected:
  RewardsAppTest()
      : rules_(test::TestProgram(0)),
        clock_(FromUnixMillis(1'795'329'804'000)),
        logger_("test", LogLevel::kError, log_, clock_),
        app_(store_, rules_, clock_, logger_, /*cache_entries=*/1000) {
    Enroll("m-1");
  }

  RequestContext Ctx(const std::string& member, const std::string& key = "", const std::string& body = "") {
    RequestContext c;
    c.member_id = member;
    c.channel = "web";
    c.correlation_id = "req-1";
    c.causation_id = "req-1";
    c.idempotency_key = key;
    c.request_hash = IdempotencyStore::RequestHash("POST", "/x", body);
    return c;
  }
  Reply Enroll(const std::string& member) {
    return app_.Enroll({member, "web", "en", "UTC", nlohmann::json::object()}, Ctx(member));
  }
  Reply Earn(const std::string& member, const std::string& order, int64_t cents) {
    EarnInput in{{order, "store", "", "USD", cents, {}}, ToUnixMillis(clock_.Now())};
    return app_.Earn(in, Ctx(member, "order:" + order, order + std::to_string(cents)));
  }
  nlohmann::json Account(const std::string& member) { return nlohmann::json::parse(app_.GetAccount(member).body); }

  ProgramRules rules_;
  ManualClock clock_;
  std::ostringstream log_;
  Logger logger_;
  InMemoryAccountStore store_;
  RewardsApp app_;
};

TEST_F(RewardsAppTest, EnrollIs201ThenReturnsTheExistingAccountWith200) {
  EXPECT_EQ(Enroll("m-2").status, 201);
  EXPECT_EQ(Enroll("m-2").status, 200);
  EXPECT_EQ(Account("m-2")["version"], 1);
}

TEST_F(RewardsAppTest, SameKeySameBodyReplaysByteForByte) {
  Earn("m-1", "o-1", 10000);
  RedeemInput in{100, "", "web", ""};
  Reply first = app_.Redeem(in, Ctx("m-1", "k-1", "100"));
  ASSERT_EQ(first.status, 201);
  Reply again = app_.Redeem(in, Ctx("m-1", "k-1", "100"));
  EXPECT_EQ(again.status, 201);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(Account("m-1")["points"]["available"], 900) << "applied once";
  Reply other = app_.Redeem({5, "", "web", ""}, Ctx("m-1", "k-1", "5"));
  EXPECT_EQ(other.status, 422);
  EXPECT_NE(other.body.find("idempotency_key_reused"), std::string::npos);
}

TEST_F(RewardsAppTest, RefusalsAreRecordedForTheirKey) {
  Reply refused = app_.Redeem({100, "", "web", ""}, Ctx("m-1", "k-9", "100"));
  EXPECT_EQ(refused.status, 409);
  Earn("m-1", "o-1", 10000);
  // Same key again: the same refusal, even though points are now available.
  Reply again = app_.Redeem({100, "", "web", ""}, Ctx("m-1", "k-9", "100"));
  EXPECT_EQ(again.status, 409);
  EXPECT_TRUE(again.replayed);
}

TEST_F(RewardsAppTest, AKeyStillInFlightIs409) {
  store_.Load({"m-1", new IdempotencyRef{RewardsApp::IdempotencyKeyFor("m-1", "k-2"),
                                         IdempotencyStore::RequestHash("POST", "/x", "1")}, "", "", ""});
  Reply r = app_.Redeem({1, "", "web", ""}, Ctx("m-1", "k-2", "1"));
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("request_in_progress"), std::string::npos);
}

TEST_F(RewardsAppTest, AChangeToAMemberThisReplicaKnowsIsOneRoundTrip) {
  Earn("m-1", "o-1", 10000);  // 1 000 points
  ASSERT_EQ(app_.Redeem({10, "", "web", ""}, Ctx("m-1", "k-1", "10")).status, 201);
  const int loads = store_.loads, commits = store_.commits;
  ASSERT_EQ(app_.Redeem({10, "", "web", ""}, Ctx("m-1", "k-2", "10")).status, 201);
  EXPECT_EQ(store_.loads, loads);
  EXPECT_EQ(store_.commits, commits + 1);
  EXPECT_EQ(Account("m-1")["points"]["available"], 980);
}

TEST_F(RewardsAppTest, AStaleCachedStateOnOneReplicaNeverWins) {
  RewardsApp other(store_, rules_, clock_, logger_, 1000);  // a second replica, same store
  Earn("m-1", "o-1", 10000);
  ASSERT_EQ(app_.Redeem({100, "", "web", ""}, Ctx("m-1", "k-1", "100")).status, 201);  // app_ caches 900
  ASSERT_EQ(other.Redeem({850, "", "store", ""}, Ctx("m-1", "k-2", "850")).status, 201);  // 50 left
  // app_'s cache still says 900: the compare-and-set refuses it and the load path decides.
  Reply r = app_.Redeem({100, "", "web", ""}, Ctx("m-1", "k-3", "100"));
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("insufficient_points"), std::string::npos);
  EXPECT_EQ(app_.Redeem({50, "", "web", ""}, Ctx("m-1", "k-4", "50")).status, 201);
  EXPECT_EQ(Account("m-1")["points"]["available"], 0);
  EXPECT_TRUE(nlohmann::json::parse(app_.Audit("m-1").body)["consistent"].get<bool>());
}

// The asynchronous operations on a store whose CommitAsync is the synchronous default: the
// cached attempt, a conflict on a stale cache (decided again on the app's worker thread), a
// refusal on the cached state (decided on the load path) and a replay all answer as the
// synchronous calls do, each exactly once.
TEST_F(RewardsAppTest, AsyncOperationsAnswerAsTheSynchronousOnesDo) {
  RewardsApp other(store_, rules_, clock_, logger_, 1000);
  Earn("m-1", "o-1", 10000);  // 1 000 points
  auto redeem = [&](int64_t points, const std::string& key) {
    std::promise<Reply> answer;
    int calls = 0;
    app_.RedeemAsync({points, "", "web", ""}, Ctx("m-1", key, std::to_string(points)),
                     [&](Reply r, std::exception_ptr e) {
                       ++calls;
                       if (e) std::rethrow_exception(e);
                       answer.set_value(std::move(r));
                     });
    Reply r = answer.get_future().get();
    EXPECT_EQ(calls, 1);
    return r;
  };
  const Reply first = redeem(100, "k-1");  // app_ now caches 900
  ASSERT_EQ(first.status, 201);
  const int loads = store_.loads;
  ASSERT_EQ(redeem(100, "k-2").status, 201);  // cached: no load
  EXPECT_EQ(store_.loads, loads);
  ASSERT_EQ(other.Redeem({750, "", "store", ""}, Ctx("m-1", "k-3", "750")).status, 201);  // 50 left elsewhere
  const Reply stale = redeem(100, "k-4");  // app_'s cache says 800: the commit conflicts
  EXPECT_EQ(stale.status, 409);
  EXPECT_NE(stale.body.find("insufficient_points"), std::string::npos);
  EXPECT_EQ(redeem(60, "k-5").status, 409);  // refused on the cached state, then on the stored one
  EXPECT_EQ(redeem(50, "k-6").status, 201);
  const Reply replay = redeem(100, "k-1");
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(Account("m-1")["points"]["available"], 0);
  EXPECT_TRUE(nlohmann::json::parse(app_.Audit("m-1").body)["consistent"].get<bool>());
}

// An in-memory store whose loads wait, while the gate is shut, until it is opened.
class GatedStore : public InMemoryAccountStore {
 public:
  LoadResult Load(const LoadRequest& r) override {
    if (shut_.load()) {
      ++waiting;
      opened_.wait();
    }
    return InMemoryAccountStore::Load(r);
  }
  void Shut() { shut_ = true; }
  void Open() {
    std::call_once(opening_, [this] { open_.set_value(); });
  }
  std::atomic<int> waiting{0};  // loads that have waited at the gate

 private:
  std::atomic<bool> shut_{false};
  std::once_flag opening_;
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
};

// A request the cache cannot settle (here: members this app has not seen) takes the load path on
// the app's workers, so the calling thread (an HTTP thread) is free before Redis answers. With
// 256 such requests already waiting for a worker, the next one runs on the calling thread, which
// is what bounds the queue.
TEST_F(RewardsAppTest, AnAsyncRequestTheCacheCannotSettleWaitsOnTheAppsWorkersNotOnTheCaller) {
  GatedStore store;
  constexpr int kWorkers = 4, kWaiting = 256, kMembers = kWorkers + kWaiting + 1;
  {
    RewardsApp seeder(store, rules_, clock_, logger_, 0);
    for (int i = 0; i < kMembers; ++i) {
      const std::string m = "g-" + std::to_string(i);
      ASSERT_EQ(seeder.Enroll({m, "web", "en", "UTC", nlohmann::json::object()}, Ctx(m)).status, 201);
      EarnInput in{{"o-" + m, "store", "", "USD", 1000, {}}, ToUnixMillis(clock_.Now())};
      ASSERT_EQ(seeder.Earn(in, Ctx(m, "order:o-" + m, m)).status, 201);  // 100 points
    }
  }
  RewardsApp app(store, rules_, clock_, logger_, 1000);  // has seen no one
  std::future<void> first;
  std::future<std::thread::id> caller;
  // Whatever way the test ends, the gate opens first, so the calls above can finish and `app`,
  // which waits for its requests, can go.
  struct OpenAtEnd {
    GatedStore& store;
    ~OpenAtEnd() { store.Open(); }
  } open_at_end{store};
  store.Shut();
  std::vector<std::future<Reply>> answers;
  std::mutex mu;
  std::set<std::thread::id> answered_on;
  auto redeem = [&](int i) {
    auto p = std::make_shared<std::promise<Reply>>();
    answers.push_back(p->get_future());
    const std::string m = "g-" + std::to_string(i);
    app.RedeemAsync({30, "", "web", ""}, Ctx(m, "k-" + m, "30"), [&, p](Reply r, std::exception_ptr e) {
      {
        std::lock_guard lock(mu);
        answered_on.insert(std::this_thread::get_id());
      }
      if (e) return p->set_exception(e);
      p->set_value(std::move(r));
    });
  };
  // Each call returns with its load still waiting at the gate.
  first = std::async(std::launch::async, [&] {
    for (int i = 0; i < kWorkers; ++i) redeem(i);
  });
  ASSERT_EQ(first.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "the calling thread waited for its request's load";
  for (int spins = 0; store.waiting.load() < kWorkers && spins < 5000; ++spins) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(store.waiting.load(), kWorkers) << "every worker holds one load";
  for (int i = kWorkers; i < kWorkers + kWaiting; ++i) redeem(i);
  EXPECT_EQ(store.waiting.load(), kWorkers);
  for (auto& a : answers) EXPECT_EQ(a.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  // The queue is full: the next request's load runs on the calling thread, which waits for it.
  caller = std::async(std::launch::async, [&] {
    redeem(kMembers - 1);
    return std::this_thread::get_id();
  });
  EXPECT_EQ(caller.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  store.Open();
  const std::thread::id caller_thread = caller.get();
  for (auto& a : answers) {
    const Reply r = a.get();
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(nlohmann::json::parse(r.body)["balances"]["available"], 70);
  }
  EXPECT_EQ(answered_on.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(answered_on.count(caller_thread), 1u);
  EXPECT_LE(answered_on.size(), static_cast<size_t>(kWorkers + 1));
}

TEST_F(RewardsAppTest, ARefusalOnACachedStateIsCheckedAgainstTheStore) {
  RewardsApp other(store_, rules_, clock_, logger_, 1000);
  Earn("m-1", "o-1", 1000);  // 100 points
  ASSERT_EQ(app_.Redeem({100, "", "web", ""}, Ctx("m-1", "k-1", "100")).status, 201);  // app_ caches 0
  EarnInput in{{"o-2", "store", "", "USD", 5000, {}}, ToUnixMillis(clock_.Now())};
  ASSERT_EQ(other.Earn(in, Ctx("m-1", "order:o-2", "o-2")).status, 201);  // 500 more elsewhere
  EXPECT_EQ(app_.Redeem({300, "", "web", ""}, Ctx("m-1", "k-2", "300")).status, 201);
  EXPECT_EQ(Account("m-1")["points"]["available"], 200);
}

TEST_F(RewardsAppTest, AnEarnOnTheCachedPathStillRefusesAnOrderEarnedElsewhere) {
  RewardsApp other(store_, rules_, clock_, logger_, 1000);
  ASSERT_EQ(Earn("m-1", "o-1", 1000).status, 201);  // app_ knows m-1
  const int loads = store_.loads;
  ASSERT_EQ(Earn("m-1", "o-2", 1000).status, 201);
  EXPECT_EQ(store_.loads, loads) << "a known member's earn is one round trip";
  // o-3 is earned through another replica; app_'s cached state does not show it.
  EarnInput in{{"o-3", "store", "", "USD", 1000, {}}, ToUnixMillis(clock_.Now())};
  ASSERT_EQ(other.Earn(in, Ctx("m-1", "order:o-3:a", "o-3")).status, 201);
  Reply again = app_.Earn(in, Ctx("m-1", "order:o-3:b", "o-3"));
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("order_already_earned"), std::string::npos);
  EXPECT_EQ(Account("m-1")["points"]["available"], 300);
}

TEST_F(RewardsAppTest, CapturingAnActiveHoldIsOneRoundTripAndACaptureElsewhereIsSeen) {
  RewardsApp other(store_, rules_, clock_, logger_, 1000);
  Earn("m-1", "o-1", 10000);
  Reply hold = app_.Hold({100, "store", "s-1", 600}, Ctx("m-1", "h-1", "100"));
  ASSERT_EQ(hold.status, 201);
  const std::string hold_id = nlohmann::json::parse(hold.body)["hold_id"];
  const int loads = store_.loads;
  Reply captured = app_.Capture(hold_id, Ctx("m-1", "c-1", hold_id));
  ASSERT_EQ(captured.status, 200) << captured.body;
  EXPECT_EQ(store_.loads, loads);
  EXPECT_EQ(Account("m-1")["points"]["available"], 900);

  // A hold captured through the other replica: app_'s cache still shows it active; the
  // compare-and-set sends it to the load path, which answers the capture's record again.
  Reply hold2 = app_.Hold({50, "store", "s-1", 600}, Ctx("m-1", "h-2", "50"));
  const std::string hold2_id = nlohmann::json::parse(hold2.body)["hold_id"];
  ASSERT_EQ(other.Capture(hold2_id, Ctx("m-1", "c-2", hold2_id)).status, 200);
  Reply again = app_.Capture(hold2_id, Ctx("m-1", "c-3", hold2_id));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(nlohmann::json::parse(again.body)["status"], "captured");
  EXPECT_EQ(Account("m-1")["points"]["available"], 850);
  EXPECT_TRUE(nlohmann::json::parse(app_.Audit("m-1").body)["consistent"].get<bool>());
}

TEST_F(RewardsAppTest, EventsAndLedgerEntriesAreCanonicalJson) {
  Earn("m-1", "o-\"quoted\"\\1", 1000);
  RequestContext ctx = Ctx("m-1", "k-1", "5");
  ctx.correlation_id = "req \"x\"\n";
  const Reply answer = app_.Redeem({5, "reward-1", "app", "o-\"r\"\\2"}, ctx);
  ASSERT_EQ(answer.status, 201);
  // The answer is written as text too: the same canonical JSON, with every field.
  const auto body = nlohmann::json::parse(answer.body);
  EXPECT_EQ(body.dump(), answer.body);
  EXPECT_EQ(body["order_id"], "o-\"r\"\\2");
  EXPECT_EQ(body["reward_id"], "reward-1");
  EXPECT_EQ(body["points"], 5);
  EXPECT_EQ(body["status"], "completed");
  EXPECT_EQ(body["member_id"], "m-1");
  EXPECT_EQ(body["balances"]["available"], 95);
  ASSERT_GE(store_.events.size(), 3u);
  for (const auto& e : store_.events) {
    const auto j = nlohmann::json::parse(e);
    EXPECT_EQ(j.dump(), e);  // written as text, byte for byte what nlohmann writes
    EXPECT_EQ(j["source"], "tessera-rewards");
    EXPECT_EQ(j["payload"]["entry_id"], "m-1:" + std::to_string(j["member_seq"].get<int64_t>()));
  }
  const auto last = nlohmann::json::parse(store_.events.back());
  EXPECT_EQ(last["type"], "points.redeemed");
  EXPECT_EQ(last["correlation_id"], "req \"x\"\n");
  EXPECT_EQ(last["channel"], "app");
  EXPECT_EQ(last["payload"]["order_id"], body["order_id"]);
  EXPECT_EQ(last["payload"]["redemption_id"], body["redemption_id"]);
  EXPECT_EQ(last["payload"]["balances"], body["balances"]);
  EXPECT_EQ(last["member_seq"], body["member_seq"]);
  const auto page = nlohmann::json::parse(app_.Ledger("m-1", std::nullopt, 10).body);
  ASSERT_FALSE(page["entries"].empty());
  const auto& newest = page["entries"][0];
  EXPECT_EQ(newest["type"], "points.redeemed");
  EXPECT_EQ(newest["points"], -5);
  EXPECT_EQ(newest["event_id"], last["event_id"]);
  EXPECT_EQ(newest["entry_id"], last["payload"]["entry_id"]);
}

TEST_F(RewardsAppTest, AKeyInFlightIs409OnTheCachedPathToo) {
  Earn("m-1", "o-1", 1000);
  ASSERT_EQ(app_.Redeem({1, "", "web", ""}, Ctx("m-1", "k-1", "1")).status, 201);  // warm
  const IdempotencyRef in_flight{RewardsApp::IdempotencyKeyFor("m-1", "k-2"),
                                 IdempotencyStore::RequestHash("POST", "/x", "1")};
  store_.Load({"m-1", &in_flight, "", "", ""});
  Reply r = app_.Redeem({1, "", "web", ""}, Ctx("m-1", "k-2", "1"));
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("request_in_progress"), std::string::npos);
  EXPECT_EQ(Account("m-1")["points"]["available"], 99);
}

TEST_F(RewardsAppTest, OrderIdMakesEarningIdempotent) {
  EXPECT_EQ(Earn("m-1", "o-1", 1000).status, 201);
  Reply replay = Earn("m-1", "o-1", 1000);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(Account("m-1")["points"]["available"], 100);
  // The same order through another key (e.g. the purchase event after the HTTP call): refused.
  EarnInput in{{"o-1", "store", "", "USD", 1000, {}}, ToUnixMillis(clock_.Now())};
  Reply dup = app_.Earn(in, Ctx("m-1", "event:e-1", "x"));
  EXPECT_EQ(dup.status, 409);
  EXPECT_NE(dup.body.find("order_already_earned"), std::string::npos);
}

TEST_F(RewardsAppTest, IfMatchGuardsAgainstAStaleView) {
  Earn("m-1", "o-1", 10000);
  const int64_t version = Account("m-1")["version"];
  RequestContext ctx = Ctx("m-1", "k-3", "a");
  ctx.if_match = version - 1;
  EXPECT_EQ(app_.Redeem({10, "", "web", ""}, ctx).status, 412);
  ctx = Ctx("m-1", "k-4", "b");
  ctx.if_match = version;
  EXPECT_EQ(app_.Redeem({10, "", "web", ""}, ctx).status, 201);
}

TEST_F(RewardsAppTest, UnknownMemberIs404) {
  Reply r = app_.Redeem({1, "", "web", ""}, Ctx("nobody", "k", "1"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("member_not_found"), std::string::npos);
  EXPECT_EQ(app_.GetAccount("nobody").status, 404);
}

TEST_F(RewardsAppTest, GoodwillCapsPerAdjustmentAndPerAgentDay) {
  AdjustInput a{1001, "goodwill", "too much", "agent-1"};
  Reply over = app_.Adjust(a, Ctx("m-1", "a-1", "1"));
  EXPECT_EQ(over.status, 422);
  EXPECT_NE(over.body.find("adjustment_cap_exceeded"), std::string::npos);
  EXPECT_EQ(app_.Adjust({1000, "goodwill", "x", "agent-1"}, Ctx("m-1", "a-2", "2")).status, 201);
  Reply daily = app_.Adjust({600, "goodwill", "x", "agent-1"}, Ctx("m-1", "a-3", "3"));
  EXPECT_EQ(daily.status, 422);
  EXPECT_NE(daily.body.find("agent_daily_cap_exceeded"), std::string::npos);
  EXPECT_EQ(app_.Adjust({500, "goodwill", "x", "agent-1"}, Ctx("m-1", "a-4", "4")).status, 201);
  EXPECT_EQ(app_.Adjust({500, "goodwill", "x", "agent-2"}, Ctx("m-1", "a-5", "5")).status, 201) << "per agent";
  clock_.Advance(std::chrono::hours(24));
  EXPECT_EQ(app_.Adjust({500, "goodwill", "x", "agent-1"}, Ctx("m-1", "a-6", "6")).status, 201) << "per day";
}

TEST_F(RewardsAppTest, ConcurrentRedemptionsSpendExactlyTheBalance) {
  Earn("m-1", "o-1", 3000);  // 300 points
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 75; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        Reply r = app_.Redeem({1, "", "web", ""}, Ctx("m-1", key, key));
        (r.status == 201 ? ok : refused)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 300);
  EXPECT_EQ(refused.load(), 600);
  EXPECT_EQ(Account("m-1")["points"]["available"], 0);
  auto audit = nlohmann::json::parse(app_.Audit("m-1").body);
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
}

TEST_F(RewardsAppTest, EventsCarryTheEnvelopeAndAGapFreeMemberSeq) {
  Earn("m-1", "o-1", 20000);  // 2000 points -> silver
  app_.Redeem({50, "", "app", ""}, Ctx("m-1", "k", "k"));
  ASSERT_EQ(store_.events.size(), 4u);  // enrolled, earned, tier.changed, redeemed
  int64_t seq = 1;
  std::set<std::string> ids;
  for (const auto& text : store_.events) {
    auto e = nlohmann::json::parse(text);
    EXPECT_EQ(e["member_seq"], seq++);
    EXPECT_EQ(e["member_id"], "m-1");
    EXPECT_EQ(e["source"], "tessera-rewards");
    const std::string id = e["event_id"];
    EXPECT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '5');  // name-based: LedgerEventId(member, member_seq, instant)
    ids.insert(id);
    EXPECT_TRUE(e["payload"].contains("balances"));
  }
  EXPECT_EQ(ids.size(), 4u);
  auto redeemed = nlohmann::json::parse(store_.events[3]);
  EXPECT_EQ(redeemed["type"], "points.redeemed");
  EXPECT_EQ(redeemed["channel"], "app");
  EXPECT_EQ(redeemed["payload"]["balances"]["available"], 1950);
  EXPECT_EQ(nlohmann::json::parse(store_.events[2])["type"], "tier.changed");
}

TEST_F(RewardsAppTest, LedgerPagesNewestFirstWithAnOpaqueCursor) {
  for (int i = 0; i < 5; ++i) Earn("m-1", "o-" + std::to_string(i), 1000);
  auto page1 = nlohmann::json::parse(app_.Ledger("m-1", std::nullopt, 4).body);
  ASSERT_EQ(page1["entries"].size(), 4u);
  EXPECT_EQ(page1["entries"][0]["member_seq"], 6);
  ASSERT_TRUE(page1["next_cursor"].is_string());
  auto page2 = nlohmann::json::parse(app_.Ledger("m-1", 3, 4).body);
  ASSERT_EQ(page2["entries"].size(), 2u);
  EXPECT_EQ(page2["entries"][1]["type"], "member.enrolled");
  EXPECT_TRUE(page2["next_cursor"].is_null());
}

TEST_F(RewardsAppTest, SweepExpiresWhatNobodyTouched) {
  Earn("m-1", "o-1", 1000);
  SweepOptions so;
  so.owner = "replica-a";
  MetricsRegistry metrics;
  Sweep sweep(app_, store_, clock_, so, logger_, metrics);
  EXPECT_EQ(sweep.RunOnce(), 0);
  clock_.Advance(std::chrono::hours(24 * 91));
  EXPECT_EQ(sweep.RunOnce(), 1);  // points.expiring
  clock_.Advance(std::chrono::hours(24 * 10));
  EXPECT_EQ(sweep.RunOnce(), 1);  // points.expired
  EXPECT_EQ(Account("m-1")["points"]["available"], 0);
  auto last = nlohmann::json::parse(store_.events.back());
  EXPECT_EQ(last["type"], "points.expired");
  EXPECT_EQ(last["payload"]["points"], 100);
  EXPECT_EQ(sweep.RunOnce(), 0) << "nothing twice";
}

// A store whose due index fails once with an error that is not Redis being away.
class DueIndexFailsOnce : public InMemoryAccountStore {
 public:
  std::vector<int> DueBuckets(int64_t now_ms) override {
    if (calls_.fetch_add(1) == 0) throw std::runtime_error("the due index could not be read");
    return InMemoryAccountStore::DueBuckets(now_ms);
  }

 private:
  std::atomic<int> calls_{0};
};

TEST_F(RewardsAppTest, ARunningSweepOutlivesAFailedPass) {
  DueIndexFailsOnce store;
  RewardsApp app(store, rules_, clock_, logger_);
  ASSERT_EQ(app.Enroll({"m-9", "web", "en", "UTC", nlohmann::json::object()}, Ctx("m-9")).status, 201);
  ASSERT_EQ(app.Earn({{"o-9", "store", "", "USD", 1000, {}}, ToUnixMillis(clock_.Now())}, Ctx("m-9", "order:o-9")).status,
            201);
  clock_.Advance(std::chrono::hours(24 * 91));
  SweepOptions so;
  so.owner = "replica-a";
  so.interval = std::chrono::milliseconds(10);
  MetricsRegistry metrics;
  Sweep sweep(app, store, clock_, so, logger_, metrics);
  Counter& changes = metrics.GetCounter("tessera_rewards_sweep_changes_total", "");
  {
    std::jthread running([&](std::stop_token st) { sweep.Run(st); });
    for (int i = 0; i < 500 && changes.Value() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }  // stopped and joined
  EXPECT_EQ(changes.Value(), 1) << "the pass after the failed one settled the member";
  EXPECT_EQ(nlohmann::json::parse(store.events.back())["type"], "points.expiring");
  EXPECT_NE(log_.str().find("sweep pass failed"), std::string::npos) << log_.str();
}

}  // namespace
}  // namespace tessera::rewards
