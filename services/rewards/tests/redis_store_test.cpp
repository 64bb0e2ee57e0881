// RewardsApp on RedisAccountStore against a real redis-server, with a manual clock: the sweep
// run by two replicas at once, two caching replicas (blocking and pipelined commits) spending
// one balance, the bounded online ledger, and failing closed without Redis.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <sstream>
#include <thread>

#include "ledger_entry.h"
#include "redis_account_store.h"
#include "rewards_app.h"
#include "sweep.h"
#include "test_program.h"
#include "tessera/errors.h"
#include "tessera/idempotency.h"
#include "tessera/keys.h"
#include "testing.h"

namespace tessera::rewards {
namespace {

class RedisStoreTest : public ::testing::Test {
 protected:
  RedisStoreTest()
      : rules_(test::TestProgram(0)),
        clock_(FromUnixMillis(1'795'329'804'000)),
        logger_("test", LogLevel::kError, log_, clock_) {
    RedisOptions o;
    o.url = ParseRedisUrl(redis_.Url());
    o.pool_size = 8;
    o.command_timeout = std::chrono::milliseconds(500);
    pool_ = std::make_unique<RedisPool>(o);
    store_ = std::make_unique<RedisAccountStore>(*pool_);
    app_ = std::make_unique<RewardsApp>(*store_, rules_, clock_, logger_);
  }
  RequestContext Ctx(const std::string& member, const std::string& key = "") {
    RequestContext c;
    c.member_id = member;
    c.channel = "web";
    c.idempotency_key = key;
    c.request_hash = IdempotencyStore::RequestHash("POST", "/x", key);
    return c;
  }
  void EnrollAndEarn(const std::string& member, int64_t cents) {
    ASSERT_EQ(app_->Enroll({member, "web", "en", "UTC", nlohmann::json::object()}, Ctx(member)).status, 201);
    EarnInput in{{"o-" + member, "store", "", "USD", cents, {}}, ToUnixMillis(clock_.Now())};
    ASSERT_EQ(app_->Earn(in, Ctx(member, "order:o-" + member)).status, 201);
  }
  std::vector<nlohmann::json> LedgerEntries(const std::string& member) {
    std::vector<nlohmann::json> out;
    const auto v = pool_->Command({"ZRANGE", MemberKey(member, "ledger"), "0", "-1", "WITHSCORES"});
    for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
      out.push_back(LedgerEntryView(member, v.elements[i + 1].AsInt(), v.elements[i].AsString()));
    }
    return out;
  }

  testing::RedisServer redis_;
  ProgramRules rules_;
  ManualClock clock_;
  std::ostringstream log_;
  Logger logger_;
  MetricsRegistry metrics_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<RedisAccountStore> store_;
  std::unique_ptr<RewardsApp> app_;
};

TEST_F(RedisStoreTest, TwoSweepReplicasApplyEachDueChangeOnce) {
  constexpr int kMembers = 120;
  for (int i = 0; i < kMembers; ++i) EnrollAndEarn("m-" + std::to_string(i), 1000 + i);
  SweepOptions a, b;
  a.owner = "replica-a";
  b.owner = "replica-b";
  a.batch = b.batch = 7;  // several passes per bucket
  Sweep sweep_a(*app_, *store_, clock_, a, logger_, metrics_);
  Sweep sweep_b(*app_, *store_, clock_, b, logger_, metrics_);
  auto run_both = [&] {
    int total = 0;
    for (int pass = 0; pass < 30; ++pass) {
      int na = 0, nb = 0;
      std::thread ta([&] { na = sweep_a.RunOnce(); });
      std::thread tb([&] { nb = sweep_b.RunOnce(); });
      ta.join();
      tb.join();
      total += na + nb;
      if (na + nb == 0 && pass > 0) break;
    }
    return total;
  };
  clock_.Advance(std::chrono::hours(24 * 91));  // inside the warning window
  EXPECT_EQ(run_both(), kMembers);
  clock_.Advance(std::chrono::hours(24 * 10));  // past expiry
  EXPECT_EQ(run_both(), kMembers);
  EXPECT_EQ(run_both(), 0);
  for (int i = 0; i < kMembers; ++i) {
    auto entries = LedgerEntries("m-" + std::to_string(i));
    ASSERT_EQ(entries.size(), 4u) << i;  // enrolled, earned, expiring, expired
    EXPECT_EQ(entries[2]["type"], "points.expiring");
    EXPECT_EQ(entries[3]["type"], "points.expired");
    EXPECT_EQ(entries[3]["balance_after"], 0);
  }
}

TEST_F(RedisStoreTest, ASweepPassLocksAndReadsOnlyTheBucketsWithAMemberDue) {
  EnrollAndEarn("m-1", 1000);
  EnrollAndEarn("m-2", 1000);
  SweepOptions so;
  so.owner = "replica-a";
  Sweep sweep(*app_, *store_, clock_, so, logger_, metrics_);
  redis_.Cli({"CONFIG", "RESETSTAT"});
  EXPECT_EQ(sweep.RunOnce(), 0) << "nothing due yet";
  EXPECT_EQ(redis_.CommandCalls("zrange"), kBucketCount) << "one look per bucket";
  EXPECT_EQ(redis_.CommandCalls("evalsha"), 0) << "no bucket locked, no member read";
  clock_.Advance(std::chrono::hours(24 * 91));  // both members' lots are now in the warning window
  redis_.Cli({"CONFIG", "RESETSTAT"});
  EXPECT_EQ(sweep.RunOnce(), 2);
  // The look, then in each bucket with a member due: its due members, and for the lock and the
  // unlock one GET each (the lease script's). Two members share at most two buckets.
  const int buckets = MemberBucket("m-1") == MemberBucket("m-2") ? 1 : 2;
  EXPECT_EQ(redis_.CommandCalls("zrange"), kBucketCount);
  EXPECT_EQ(redis_.CommandCalls("zrangebyscore"), buckets);
  EXPECT_EQ(redis_.CommandCalls("get"), 2 * buckets);
  for (const auto* m : {"m-1", "m-2"}) EXPECT_EQ(LedgerEntries(m).back()["type"], "points.expiring") << m;
}

TEST_F(RedisStoreTest, ASweepSkipsAMemberItCannotReadAndSettlesTheRest) {
  EnrollAndEarn("m-1", 1000);
  EnrollAndEarn("m-2", 1000);
  // m-1's state is damaged (a write version moved on, so no replica's cached copy can paper over it).
  redis_.Cli({"HSET", MemberKey("m-1", "state"), "s", "{not json", "v", "999"});
  SweepOptions so;
  so.owner = "replica-a";
  so.failure_retry = std::chrono::minutes(10);
  MetricsRegistry metrics;
  Sweep sweep(*app_, *store_, clock_, so, logger_, metrics);
  Counter& failures = metrics.GetCounter("tessera_rewards_sweep_failures_total", "");
  clock_.Advance(std::chrono::hours(24 * 91));  // both members' lots are now in the warning window
  EXPECT_EQ(sweep.RunOnce(), 1) << "m-2 is settled all the same";
  EXPECT_EQ(LedgerEntries("m-2").back()["type"], "points.expiring");
  EXPECT_EQ(LedgerEntries("m-1").size(), 2u) << "nothing written for m-1";
  EXPECT_EQ(failures.Value(), 1);
  EXPECT_NE(log_.str().find("\"member_id\":\"m-1\""), std::string::npos) << log_.str();
  EXPECT_TRUE(store_->TryLockBucket(MemberBucket("m-1"), "replica-b", 1000)) << "the pass released its lock";
  store_->UnlockBucket(MemberBucket("m-1"), "replica-b");

  EXPECT_EQ(sweep.RunOnce(), 0);
  EXPECT_EQ(failures.Value(), 1) << "not tried again at every pass";
  clock_.Advance(std::chrono::minutes(11));
  EXPECT_EQ(sweep.RunOnce(), 0);
  EXPECT_EQ(failures.Value(), 2) << "tried again after failure_retry";
}

// A member indexed as due whose state was deleted by hand: the sweep takes it out of the index
// (once, with a warning naming it) instead of loading it again at every pass; an enrolled
// member is never taken out that way.
TEST_F(RedisStoreTest, ASweepForgetsADueMemberWhoseStateIsGone) {
  EnrollAndEarn("m-1", 1000);
  EnrollAndEarn("m-2", 1000);
  const std::string due1 = RedisAccountStore::DueKey(MemberBucket("m-1"));
  ASSERT_NE(redis_.Cli({"ZSCORE", due1, "m-1"}), "") << "earned lots put m-1 in the due index";
  EXPECT_FALSE(store_->ForgetDueIfGone("m-1")) << "m-1 is enrolled";
  EXPECT_NE(redis_.Cli({"ZSCORE", due1, "m-1"}), "");
  redis_.Cli({"DEL", RedisAccountStore::StateKey("m-1")});
  SweepOptions so;
  so.owner = "replica-a";
  MetricsRegistry metrics;
  std::ostringstream warnings;
  Logger logger("test", LogLevel::kWarn, warnings, clock_);
  Sweep sweep(*app_, *store_, clock_, so, logger, metrics);
  clock_.Advance(std::chrono::hours(24 * 91));  // both members' lots are now in the warning window
  EXPECT_EQ(sweep.RunOnce(), 1) << "m-2 is settled";
  EXPECT_EQ(LedgerEntries("m-2").back()["type"], "points.expiring");
  EXPECT_EQ(redis_.Cli({"ZSCORE", due1, "m-1"}), "") << "m-1 is out of the index";
  EXPECT_EQ(metrics.GetCounter("tessera_rewards_sweep_failures_total", "").Value(), 0) << "not a failure";
  EXPECT_NE(warnings.str().find("\"member_id\":\"m-1\""), std::string::npos) << warnings.str();
  redis_.Cli({"CONFIG", "RESETSTAT"});
  EXPECT_EQ(sweep.RunOnce(), 0);
  EXPECT_EQ(redis_.CommandCalls("evalsha"), 0) << "m-1 is not read again";
}

// Two replicas, each with its member cache, spending one balance at once through the real
// commit script: every change commits on the current state (compare-and-set on the write
// version), so exactly the balance is spent and the ledger has no gap; a replayed key on the
// other replica answers the first response; a key in flight on one is 409 on the other.
TEST_F(RedisStoreTest, TwoCachingReplicasSpendOneBalanceExactlyOnce) {
  EnrollAndEarn("m-1", 10000);  // 1 000 points
  RewardsApp a(*store_, rules_, clock_, logger_, 1000), b(*store_, rules_, clock_, logger_, 1000);
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      RewardsApp& app = t % 2 ? a : b;
      for (int i = 0; i < 80; ++i) {
        const std::string key = "k-" + std::to_string(t) + "-" + std::to_string(i);
        const int status = app.Redeem({2, "", "web", ""}, Ctx("m-1", key)).status;
        (status == 201 ? ok : status == 409 ? refused : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 500);  // 1 000 points / 2
  EXPECT_EQ(refused.load(), 140);
  EXPECT_EQ(other.load(), 0);
  const auto audit = nlohmann::json::parse(a.Audit("m-1").body);
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
  EXPECT_EQ(nlohmann::json::parse(b.GetAccount("m-1").body)["points"]["available"], 0);
  int redeemed_entries = 0;
  for (const auto& e : LedgerEntries("m-1")) redeemed_entries += e["type"] == "points.redeemed";
  EXPECT_EQ(redeemed_entries, 500);

  // Replays and keys in flight across replicas.
  EnrollAndEarn("m-2", 10000);
  const Reply first = a.Redeem({5, "", "web", ""}, Ctx("m-2", "same"));
  ASSERT_EQ(first.status, 201);
  const Reply replay = b.Redeem({5, "", "web", ""}, Ctx("m-2", "same"));
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.body, first.body);
  const IdempotencyRef in_flight{RewardsApp::IdempotencyKeyFor("m-2", "busy"), Ctx("m-2", "busy").request_hash};
  ASSERT_EQ(store_->Load({"m-2", &in_flight, "", "", ""}).idempotency, IdempotencyOutcome::kProceed);
  ASSERT_EQ(a.Redeem({1, "", "web", ""}, Ctx("m-2", "warm")).status, 201);  // a knows m-2
  const Reply busy = a.Redeem({1, "", "web", ""}, Ctx("m-2", "busy"));
  EXPECT_EQ(busy.status, 409);
  EXPECT_NE(busy.body.find("request_in_progress"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(a.GetAccount("m-2").body)["points"]["available"], 994);
}

// The same race through the asynchronous path: both replicas commit on one pipelined
// connection, so commits of different requests share batches and many conflict on the cached
// state; each conflict's load path runs on the app's worker threads. Exactly the balance is
// spent, each request is answered once, and the ledger has one entry per success.
TEST_F(RedisStoreTest, TwoPipelinedReplicasSpendOneBalanceExactlyOnce) {
  EnrollAndEarn("m-1", 10000);  // 1 000 points
  RedisOptions o = pool_->options();
  RedisPipeline pipeline(o);
  RedisAccountStore piped(*pool_, IdempotencyOptions{}, &pipeline);
  std::atomic<int> ok{0}, refused{0}, other{0}, answered{0};
  {
    RewardsApp a(piped, rules_, clock_, logger_, 1000), b(piped, rules_, clock_, logger_, 1000);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        RewardsApp& app = t % 2 ? a : b;
        // Ten requests in flight per thread at a time: the pipeline sees bursts.
        for (int burst = 0; burst < 8; ++burst) {
          std::vector<std::future<int>> answers;
          for (int i = 0; i < 10; ++i) {
            auto p = std::make_shared<std::promise<int>>();
            answers.push_back(p->get_future());
            const std::string key = "k-" + std::to_string(t) + "-" + std::to_string(burst * 10 + i);
            app.RedeemAsync({2, "", "web", ""}, Ctx("m-1", key), [&, p](Reply r, std::exception_ptr e) {
              ++answered;
              p->set_value(e ? -1 : r.status);
            });
          }
          for (auto& f : answers) {
            const int status = f.get();
            (status == 201 ? ok : status == 409 ? refused : other)++;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }  // the apps wait for what they started
  EXPECT_EQ(answered.load(), 640);
  EXPECT_EQ(ok.load(), 500);  // 1 000 points / 2
  EXPECT_EQ(refused.load(), 140);
  EXPECT_EQ(other.load(), 0);
  const auto audit = nlohmann::json::parse(app_->Audit("m-1").body);
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
  EXPECT_EQ(nlohmann::json::parse(app_->GetAccount("m-1").body)["points"]["available"], 0);
  int redeemed_entries = 0;
  for (const auto& e : LedgerEntries("m-1")) redeemed_entries += e["type"] == "points.redeemed";
  EXPECT_EQ(redeemed_entries, 500);
}

TEST_F(RedisStoreTest, LedgerEntriesAreStoredCompactlyAndOlderFormatsStillRead) {
  EnrollAndEarn("m-1", 10000);
  ASSERT_EQ(app_->Redeem({7, "", "store", ""}, Ctx("m-1", "k-1")).status, 201);
  const auto v = pool_->Command({"ZRANGE", MemberKey("m-1", "ledger"), "-1", "-1", "WITHSCORES"});
  const std::string stored = v.elements.at(0).AsString();
  const int64_t seq = v.elements.at(1).AsInt();
  const auto compact = nlohmann::json::parse(stored);
  ASSERT_TRUE(compact.is_array());
  EXPECT_EQ(compact.size(), 7u);  // no event id: it is derived
  EXPECT_EQ(compact[0], 2);       // points.redeemed, by its code
  EXPECT_EQ(compact[1], -7);
  EXPECT_EQ(compact[4], 2);  // store
  EXPECT_LT(stored.size(), 60u);
  const nlohmann::json shown = nlohmann::json::parse(app_->Ledger("m-1", std::nullopt, 5).body)["entries"][0];
  EXPECT_EQ(shown["event_id"], LedgerEventId("m-1", seq, compact[6].get<int64_t>()));
  EXPECT_EQ(shown["type"], "points.redeemed");
  EXPECT_EQ(shown["channel"], "store");
  const auto replace = [&](const std::string& old_entry, const std::string& new_entry) {
    pool_->Command({"ZREM", MemberKey("m-1", "ledger"), old_entry}).ThrowIfError();
    pool_->Command({"ZADD", MemberKey("m-1", "ledger"), std::to_string(seq), new_entry}).ThrowIfError();
  };
  // An entry written as a full object, as before the compact format, reads the same.
  const nlohmann::json full = LedgerEntryView("m-1", seq, stored);
  replace(stored, full.dump());
  auto page = nlohmann::json::parse(app_->Ledger("m-1", std::nullopt, 5).body);
  EXPECT_EQ(page["entries"][0], full);
  EXPECT_EQ(page["entries"][0]["entry_id"], "m-1:" + std::to_string(seq));
  EXPECT_EQ(page["entries"][0]["channel"], "store");
  // An array with names instead of codes and its event id as an 8th element (the format before
  // ids were derived) shows that id.
  nlohmann::json with_id = compact;
  with_id[0] = "points.redeemed";
  with_id[4] = "store";
  with_id.push_back("0b0b0b0b-0000-4000-8000-000000000000");
  replace(full.dump(), with_id.dump());
  page = nlohmann::json::parse(app_->Ledger("m-1", std::nullopt, 5).body);
  EXPECT_EQ(page["entries"][0]["event_id"], "0b0b0b0b-0000-4000-8000-000000000000");
  EXPECT_EQ(page["entries"][0]["points"], -7);
  EXPECT_EQ(page["entries"][0]["type"], "points.redeemed");
  EXPECT_TRUE(nlohmann::json::parse(app_->Audit("m-1").body)["consistent"].get<bool>());
}

TEST_F(RedisStoreTest, TheOnlineLedgerIsBoundedAndTheAuditStillBalances) {
  rules_.ledger_online_entries = 20;
  EnrollAndEarn("m-1", 100000);
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(app_->Redeem({1, "", "web", ""}, Ctx("m-1", "k-" + std::to_string(i))).status, 201);
  }
  EXPECT_EQ(pool_->Command({"ZCARD", MemberKey("m-1", "ledger")}).AsInt(), 20);
  auto audit = nlohmann::json::parse(app_->Audit("m-1").body);
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
  EXPECT_EQ(audit["ledger_entries"], 43);  // enrolled, earned, tier.changed (gold), 40 redemptions
  EXPECT_EQ(audit["ledger_sum"], 10000 - 40);

  // A lowered limit trims at the member's next entry; a raised one keeps what is online.
  rules_.ledger_online_entries = 5;
  ASSERT_EQ(app_->Redeem({1, "", "web", ""}, Ctx("m-1", "k-lower")).status, 201);
  EXPECT_EQ(pool_->Command({"ZCARD", MemberKey("m-1", "ledger")}).AsInt(), 5);
  rules_.ledger_online_entries = 1000;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(app_->Redeem({1, "", "web", ""}, Ctx("m-1", "k-raise-" + std::to_string(i))).status, 201);
  }
  EXPECT_EQ(pool_->Command({"ZCARD", MemberKey("m-1", "ledger")}).AsInt(), 8);
  audit = nlohmann::json::parse(app_->Audit("m-1").body);
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
  EXPECT_EQ(audit["ledger_entries"], 47);
  EXPECT_EQ(audit["ledger_sum"], 10000 - 44);
}

// A member whose newest entry's member_seq is within the limit is not counted, so the limit
// holds only because every entry has a seq of its own: many entries written by one change
// (an earn with a tier change) must still be bounded.
TEST_F(RedisStoreTest, TheOnlineLedgerBoundHoldsWhenOneChangeWritesSeveralEntries) {
  rules_.ledger_online_entries = 2;
  EnrollAndEarn("m-1", 100000);  // enrolled, earned, tier.changed: three entries, seqs 1..3
  EXPECT_EQ(pool_->Command({"ZCARD", MemberKey("m-1", "ledger")}).AsInt(), 2);
  auto audit = nlohmann::json::parse(app_->Audit("m-1").body);
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
  EXPECT_EQ(audit["ledger_entries"], 3);
}

// Order, redemption and hold records are removed a day past the longer of the claim and
// reversal windows (366 days with the test program), and nothing that used them can then apply
// twice: the purchase is too old to earn again, the refund, the cancellation and the capture
// find nothing.
TEST_F(RedisStoreTest, TheSweepRemovesRecordsPastTheRetentionAndNoneCanBeUsedTwice) {
  const auto hlen = [&](const char* hash) { return pool_->Command({"HLEN", MemberKey("m-1", hash)}).AsInt(); };
  const auto body = [](const Reply& r) { return nlohmann::json::parse(r.body); };
  const auto sweep_passes = [&](Sweep& sweep) {
    for (int i = 0; i < 3; ++i) sweep.RunOnce();
  };
  const int64_t t0 = ToUnixMillis(clock_.Now());
  EnrollAndEarn("m-1", 100000);  // o-m-1, 10 000 points
  const std::string r1 = body(app_->Redeem({10, "", "web", ""}, Ctx("m-1", "r-1")))["redemption_id"];
  const std::string h1 = body(app_->Hold({10, "store", "", 60}, Ctx("m-1", "h-1")))["hold_id"];
  ASSERT_EQ(app_->Capture(h1, Ctx("m-1", "c-1")).status, 200);
  clock_.Advance(std::chrono::hours(24 * 200));
  EarnInput later{{"o-later", "web", "", "USD", 5000, {}}, ToUnixMillis(clock_.Now())};
  ASSERT_EQ(app_->Earn(later, Ctx("m-1", "order:o-later")).status, 201);
  ASSERT_EQ(app_->Redeem({10, "", "web", ""}, Ctx("m-1", "r-2")).status, 201);
  EXPECT_EQ(hlen("orders"), 2);
  EXPECT_EQ(hlen("redemptions"), 3);  // r-1, the capture's, r-2
  EXPECT_EQ(hlen("holds"), 1);

  SweepOptions o;
  o.owner = "replica-a";
  Sweep sweep(*app_, *store_, clock_, o, logger_, metrics_);
  sweep_passes(sweep);
  EXPECT_EQ(hlen("orders"), 2);  // nothing is past the retention yet
  EXPECT_EQ(hlen("redemptions"), 3);

  clock_.Advance(std::chrono::hours(24 * 166) + std::chrono::minutes(2));  // t0 + 366 days and a bit
  sweep_passes(sweep);
  EXPECT_EQ(hlen("orders"), 1);
  EXPECT_EQ(pool_->Command({"HEXISTS", MemberKey("m-1", "orders"), "o-later"}).AsInt(), 1);
  EXPECT_EQ(hlen("redemptions"), 1);  // r-2
  EXPECT_EQ(hlen("holds"), 0);
  EXPECT_EQ(metrics_.GetCounter("tessera_rewards_sweep_records_removed_total", "").Value(), 4);  // o, r-1, capture's, h
  const auto state = [&] {
    return MemberState::FromJson(pool_->Command({"HGET", RedisAccountStore::StateKey("m-1"), "s"}).AsString());
  };
  EXPECT_EQ(state().records_since, t0 + 200 * kDayMs);  // o-later's purchase
  const auto due = pool_->Command({"ZSCORE", RedisAccountStore::DueKey(MemberBucket("m-1")), "m-1"});
  ASSERT_FALSE(due.IsNil());
  EXPECT_GT(std::stoll(due.AsString()), ToUnixMillis(clock_.Now()));

  const std::string account_before = app_->GetAccount("m-1").body;
  EarnInput again{{"o-m-1", "store", "", "USD", 100000, {}}, t0};  // the same purchase, sent again
  Reply r = app_->Earn(again, Ctx("m-1"));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(body(r)["code"], "outside_claim_window");
  r = app_->ReverseRefund({"o-m-1", 100, "late"}, Ctx("m-1", "v-1"));
  EXPECT_EQ(body(r)["code"], "order_not_found");
  r = app_->ReverseRedemption({r1, "late"}, Ctx("m-1", "v-2"));
  EXPECT_EQ(body(r)["code"], "redemption_not_found");
  r = app_->Capture(h1, Ctx("m-1", "c-2"));
  EXPECT_EQ(body(r)["code"], "hold_not_found");
  EXPECT_EQ(app_->GetAccount("m-1").body, account_before);
  auto audit = body(app_->Audit("m-1"));
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();

  // Once the last record is gone, nothing is left for the sweep.
  clock_.Advance(std::chrono::hours(24 * 201));
  sweep_passes(sweep);
  EXPECT_EQ(hlen("orders") + hlen("redemptions") + hlen("holds"), 0);
  EXPECT_EQ(state().records_since, 0);
  EXPECT_TRUE(pool_->Command({"ZSCORE", RedisAccountStore::DueKey(MemberBucket("m-1")), "m-1"}).IsNil());
}

// A member written by a build before records were dated (state format 1, no "rec", indexed
// only for its lot) has its records looked at a retention after its enrolment.
TEST_F(RedisStoreTest, RecordsKeptBeforeTheyWereDatedAreRemovedARetentionAfterEnrolment) {
  const int64_t t0 = ToUnixMillis(clock_.Now());
  EnrollAndEarn("m-1", 10000);
  const std::string state_key = RedisAccountStore::StateKey("m-1");
  auto doc = nlohmann::json::parse(pool_->Command({"HGET", state_key, "s"}).AsString());
  doc.erase("rec");
  doc["v"] = 1;
  pool_->Command({"HSET", state_key, "s", doc.dump()}).ThrowIfError();
  const std::string due_key = RedisAccountStore::DueKey(MemberBucket("m-1"));
  pool_->Command({"ZADD", due_key, std::to_string(t0 + 100 * kDayMs), "m-1"}).ThrowIfError();  // the lot's expiry
  SweepOptions o;
  o.owner = "replica-a";
  Sweep sweep(*app_, *store_, clock_, o, logger_, metrics_);
  clock_.Advance(std::chrono::hours(24 * 101));
  EXPECT_GT(sweep.RunOnce(), 0);  // the lot expired
  EXPECT_EQ(pool_->Command({"HLEN", MemberKey("m-1", "orders")}).AsInt(), 1);
  // Due again no later than a retention after the enrolment (the tier window may come first).
  EXPECT_LE(std::stoll(pool_->Command({"ZSCORE", due_key, "m-1"}).AsString()), t0 + 366 * kDayMs);
  clock_.Advance(std::chrono::hours(24 * 265) + std::chrono::minutes(1));
  for (int i = 0; i < 3; ++i) sweep.RunOnce();
  EXPECT_EQ(pool_->Command({"HLEN", MemberKey("m-1", "orders")}).AsInt(), 0);
  EXPECT_FALSE(nlohmann::json::parse(pool_->Command({"HGET", state_key, "s"}).AsString()).contains("rec"));
  EXPECT_TRUE(pool_->Command({"ZSCORE", due_key, "m-1"}).IsNil());
}

// A rolling update from a release that wrote idempotency records as hashes: this release reads
// both formats, on the load path and on the cached commit path, and writes hashes while told to
// (TESSERA_IDEMPOTENCY_RECORDS=hash), strings otherwise.
TEST_F(RedisStoreTest, IdempotencyRecordsOfEitherFormatAreReplayed) {
  EnrollAndEarn("m-1", 10000);  // 1 000 points
  IdempotencyOptions as_hash;
  as_hash.write_hash = true;
  RedisAccountStore hash_store(*pool_, as_hash);
  RewardsApp by_hash(hash_store, rules_, clock_, logger_), by_string(*store_, rules_, clock_, logger_),
      cached(*store_, rules_, clock_, logger_, 1000);
  const auto type = [&](const std::string& key) {
    return pool_->Command({"TYPE", RewardsApp::IdempotencyKeyFor("m-1", key)}).AsString();
  };
  const Reply h = by_hash.Redeem({5, "", "web", ""}, Ctx("m-1", "as-hash"));
  ASSERT_EQ(h.status, 201) << h.body;
  EXPECT_EQ(type("as-hash"), "hash");
  const Reply s = by_string.Redeem({5, "", "web", ""}, Ctx("m-1", "as-string"));
  ASSERT_EQ(s.status, 201) << s.body;
  EXPECT_EQ(type("as-string"), "string");
  EXPECT_GT(pool_->Command({"PTTL", RewardsApp::IdempotencyKeyFor("m-1", "as-string")}).AsInt(), 23 * 3600 * 1000);

  for (RewardsApp* app : {&by_string, &by_hash}) {  // the load path
    const Reply rh = app->Redeem({5, "", "web", ""}, Ctx("m-1", "as-hash"));
    EXPECT_TRUE(rh.replayed);
    EXPECT_EQ(rh.body, h.body);
    const Reply rs = app->Redeem({5, "", "web", ""}, Ctx("m-1", "as-string"));
    EXPECT_TRUE(rs.replayed);
    EXPECT_EQ(rs.body, s.body);
  }
  ASSERT_EQ(cached.Redeem({1, "", "web", ""}, Ctx("m-1", "warm")).status, 201);  // cached knows m-1 now
  const Reply ch = cached.Redeem({5, "", "web", ""}, Ctx("m-1", "as-hash"));
  EXPECT_TRUE(ch.replayed);
  EXPECT_EQ(ch.body, h.body);
  const Reply cs = cached.Redeem({5, "", "web", ""}, Ctx("m-1", "as-string"));
  EXPECT_TRUE(cs.replayed);
  EXPECT_EQ(cs.body, s.body);
  RequestContext other = Ctx("m-1", "as-hash");
  other.request_hash = IdempotencyStore::RequestHash("POST", "/x", "another body");
  EXPECT_EQ(cached.Redeem({5, "", "web", ""}, other).status, 422);
  // A key marked in flight in the hash format holds off the cached path too.
  const IdempotencyRef busy{RewardsApp::IdempotencyKeyFor("m-1", "busy"), Ctx("m-1", "busy").request_hash};
  ASSERT_EQ(hash_store.Load({"m-1", &busy, "", "", ""}).idempotency, IdempotencyOutcome::kProceed);
  EXPECT_EQ(type("busy"), "hash");
  EXPECT_EQ(cached.Redeem({1, "", "web", ""}, Ctx("m-1", "busy")).status, 409);
  EXPECT_EQ(nlohmann::json::parse(cached.GetAccount("m-1").body)["points"]["available"], 989);
}

TEST_F(RedisStoreTest, MoneyOperationsFailClosedWithoutRedis) {
  EnrollAndEarn("m-1", 1000);
  redis_.Kill();
  EXPECT_THROW(app_->Redeem({1, "", "web", ""}, Ctx("m-1", "k-1")), UnavailableError);
  EXPECT_THROW(app_->GetAccount("m-1"), UnavailableError);
  redis_.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return pool_->Ping(); }, std::chrono::seconds(5)));
  Reply r = app_->Redeem({1, "", "web", ""}, Ctx("m-1", "k-1"));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(nlohmann::json::parse(app_->GetAccount("m-1").body)["points"]["available"], 99);
}

}  // namespace
}  // namespace tessera::rewards
