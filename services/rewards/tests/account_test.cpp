// The reward-account rules on a MemberState, with time moved by hand.
#include "account.h"

#include <gtest/gtest.h>

#include "test_program.h"
#include "tessera/errors.h"

namespace tessera::rewards {
namespace {

constexpr int64_t kT0 = 1'795'329'804'000;  // 2026-11-22T06:43:24Z
constexpr int64_t kDay = kDayMs;

// A change's payload as a tree.
nlohmann::json Payload(const Change& c) {
  std::string text;
  AppendJsonObject(text, c.payload);
  return nlohmann::json::parse(text);
}

class AccountTest : public ::testing::Test {
 protected:
  explicit AccountTest(int pending_days = 0) : rules_(test::TestProgram(pending_days)) {
    Account a(state_, rules_, now_);
    a.Enroll({"m-1", "web", "en", "UTC", nlohmann::json::object()});
  }

  // Runs `f` on a fresh Account at the current time (after Settle), like one request.
  template <typename F>
  auto Do(F f) {
    Account a(state_, rules_, now_);
    a.Settle();
    auto result = f(a);
    last_changes_ = a.changes();
    last_records_ = a.records();
    return result;
  }
  nlohmann::json Earn(int64_t dollars, const std::string& order_id, const std::string& category = "misc") {
    return Do([&](Account& a) {
      return a.Earn({order_id, "web", "", "USD", dollars * 100, {{"sku", category, dollars * 100, 1}}}, now_);
    });
  }
  void Settle() { Do([](Account&) { return 0; }); }
  std::vector<std::string> Types() const {
    std::vector<std::string> t;
    for (const auto& c : last_changes_) t.push_back(c.type);
    return t;
  }
  int ProblemStatus(const std::function<void()>& f, std::string* code = nullptr) {
    try {
      f();
    } catch (const ProblemError& e) {
      if (code) *code = e.problem().code;
      return e.problem().status;
    }
    return 0;
  }

  ProgramRules rules_;
  MemberState state_;
  int64_t now_ = kT0;
  std::vector<Change> last_changes_;
  Records last_records_;
};

TEST_F(AccountTest, EnrollStartsAtTheFirstTierWithSequenceOne) {
  EXPECT_EQ(state_.tier, "member");
  EXPECT_EQ(state_.seq, 1);
  EXPECT_EQ(state_.Total(), 0);
}

TEST_F(AccountTest, SpendingTakesTheLotsThatExpireSoonestFirst) {
  Earn(10, "o-1");           // 100 points, expires T0+100d
  now_ += 5 * kDay;
  Earn(20, "o-2");           // 200 points, expires T0+105d
  Do([&](Account& a) { return a.Redeem("r-1", 150, "", "", "store"); });
  ASSERT_EQ(state_.lots.size(), 1u);
  EXPECT_EQ(state_.lots[0].order_id, "o-2");
  EXPECT_EQ(state_.lots[0].remaining, 150);
  auto alloc = last_records_.redemptions.at("r-1")["allocations"];
  ASSERT_EQ(alloc.size(), 2u);
  EXPECT_EQ(alloc[0][0], "lot-1");
  EXPECT_EQ(alloc[0][1], 100);
  EXPECT_EQ(alloc[1][1], 50);
}

TEST_F(AccountTest, RedemptionNeverTakesAvailableBelowZero) {
  Earn(10, "o-1");
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.Redeem("r-1", 101, "", "", "web"); }); }, &code), 409);
  EXPECT_EQ(code, "insufficient_points");
  EXPECT_EQ(state_.Available(), 100);
}

TEST_F(AccountTest, ExpiryWarnsOnceThenExpiresTheLot) {
  Earn(10, "o-1");
  now_ += 89 * kDay;
  Settle();
  EXPECT_TRUE(Types().empty());
  now_ += 2 * kDay;  // 9 days before expiry: inside the 10-day warning window
  Settle();
  EXPECT_EQ(Types(), std::vector<std::string>{"points.expiring"});
  EXPECT_EQ(Payload(last_changes_[0])["points"], 100);
  Settle();
  EXPECT_TRUE(Types().empty()) << "warned once per lot";
  now_ += 10 * kDay;
  Settle();
  EXPECT_EQ(Types(), std::vector<std::string>{"points.expired"});
  EXPECT_EQ(last_changes_[0].points, -100);
  EXPECT_EQ(state_.Available(), 0);
  EXPECT_TRUE(state_.lots.empty());
}

TEST_F(AccountTest, HoldsReserveAndExpireBackToAvailable) {
  Earn(10, "o-1");
  Do([&](Account& a) { return a.Hold("h-1", 60, "store", "s-1", 600); });
  EXPECT_EQ(state_.Available(), 40);
  EXPECT_EQ(state_.held, 60);
  EXPECT_EQ(state_.Total(), 100);
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.Redeem("r", 50, "", "", "web"); }); }, &code), 409);
  now_ += 601'000;
  Settle();
  EXPECT_EQ(Types(), std::vector<std::string>{"hold.released"});
  EXPECT_EQ(last_records_.holds.at("h-1")["status"], "expired");
  EXPECT_EQ(state_.Available(), 100);
  EXPECT_EQ(state_.held, 0);
}

TEST_F(AccountTest, CaptureTurnsAHoldIntoARedemptionOnce) {
  Earn(10, "o-1");
  Do([&](Account& a) { return a.Hold("h-1", 60, "store", "", 600); });
  auto captured = Do([&](Account& a) { return a.Capture("h-1", "r-9", std::nullopt); });
  EXPECT_EQ(captured["status"], "captured");
  EXPECT_EQ(last_changes_.at(0).points, -60);
  EXPECT_EQ(state_.Total(), 40);
  EXPECT_EQ(state_.held, 0);
  const auto record = last_records_.holds.at("h-1");
  // Capturing again answers the same; releasing a captured hold is refused.
  auto again = Do([&](Account& a) { return a.Capture("h-1", "r-10", record); });
  EXPECT_EQ(again, captured);
  EXPECT_TRUE(last_changes_.empty());
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.Release("h-1", record); }); }, &code), 409);
  EXPECT_EQ(code, "hold_not_active");
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.Capture("nope", "r", std::nullopt); }); }), 404);
}

TEST_F(AccountTest, ReleaseGivesThePointsBackToTheirLots) {
  Earn(10, "o-1");
  Do([&](Account& a) { return a.Hold("h-1", 100, "store", "", 600); });
  EXPECT_TRUE(state_.lots.empty());
  Do([&](Account& a) { return a.Release("h-1", std::nullopt); });
  ASSERT_EQ(state_.lots.size(), 1u);
  EXPECT_EQ(state_.lots[0].id, "lot-1");
  EXPECT_EQ(state_.Available(), 100);
}

TEST_F(AccountTest, TierRisesAtOnceAndFallsWhenTheWindowMovesOn) {
  Earn(120, "o-1");  // 1200 qualifying: silver (1000)
  EXPECT_EQ(Types(), (std::vector<std::string>{"points.earned", "tier.changed"}));
  EXPECT_EQ(state_.tier, "silver");
  EXPECT_EQ(Payload(last_changes_[1])["direction"], "up");
  now_ += 364 * kDay;
  Settle();
  EXPECT_EQ(state_.tier, "silver");
  now_ += 1 * kDay;  // the earn leaves the 365-day window
  Settle();
  EXPECT_EQ(state_.tier, "member");
  ASSERT_FALSE(last_changes_.empty());
  EXPECT_EQ(last_changes_.back().type, "tier.changed");
  EXPECT_EQ(Payload(last_changes_.back())["direction"], "down");
}

TEST_F(AccountTest, TierMultiplierAppliesToTheTierAtPurchase) {
  Earn(120, "o-1");  // becomes silver after this earn; this earn is at member rate
  EXPECT_EQ(state_.lifetime, 1200);
  Earn(100, "o-2");  // silver x1.25
  EXPECT_EQ(state_.lifetime, 1200 + 1250);
}

TEST_F(AccountTest, RefundsClawBackProportionallyAndNeverBeyondTheOrder) {
  Earn(100, "o-1");  // 1000 points on $100
  auto order = last_records_.orders.at("o-1");
  auto r1 = Do([&](Account& a) { return a.ReverseRefund("v1", "o-1", 2500, "returned item", order); });
  EXPECT_EQ(r1["points"], 250);
  EXPECT_EQ(state_.Available(), 750);
  order = last_records_.orders.at("o-1");
  // $33.33 more: cumulative $58.33 -> 583 points in total reversed -> 333 more.
  auto r2 = Do([&](Account& a) { return a.ReverseRefund("v2", "o-1", 3333, "returned item", order); });
  EXPECT_EQ(r2["points"], 333);
  order = last_records_.orders.at("o-1");
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.ReverseRefund("v3", "o-1", 5000, "x", order); }); }, &code), 422);
  EXPECT_EQ(code, "refund_exceeds_order");
  auto r3 = Do([&](Account& a) { return a.ReverseRefund("v3", "o-1", 4167, "rest", order); });
  EXPECT_EQ(r3["points"], 417);
  EXPECT_EQ(state_.Available(), 0);
  EXPECT_EQ(state_.lifetime, 0);
}

TEST_F(AccountTest, RefundOfSpentPointsMakesAvailableNegativeUntilRepaid) {
  Earn(100, "o-1");
  auto order = last_records_.orders.at("o-1");
  Do([&](Account& a) { return a.Redeem("r-1", 900, "", "", "web"); });
  Do([&](Account& a) { return a.ReverseRefund("v1", "o-1", 10000, "full refund", order); });
  EXPECT_EQ(state_.Available(), -900);
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.Redeem("r-2", 1, "", "", "web"); }); }, &code), 409);
  Earn(100, "o-2");  // 1000 points: 900 pay the debt
  EXPECT_EQ(state_.Available(), 100);
  EXPECT_EQ(state_.debt, 0);
}

TEST_F(AccountTest, RefundsOutsideTheWindowAreRefused) {
  Earn(100, "o-1");
  auto order = last_records_.orders.at("o-1");
  now_ += 31 * kDay;
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.ReverseRefund("v", "o-1", 100, "late", order); }); }, &code), 422);
  EXPECT_EQ(code, "outside_reversal_window");
}

TEST_F(AccountTest, PurchasesAndOfferBonusesOlderThanTheClaimWindowEarnNothing) {
  const MemberState before = state_;
  const auto earn_at = [&](int64_t occurred_ms, const std::string& order_id) {
    return Do([&](Account& a) { return a.Earn({order_id, "web", "", "USD", 1000, {}}, occurred_ms); });
  };
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { earn_at(now_ - 366 * kDay, "o-old"); }, &code), 422);
  EXPECT_EQ(code, "outside_claim_window");
  EXPECT_EQ(state_.ToJson(), before.ToJson());  // nothing changed
  EXPECT_TRUE(last_records_.orders.empty());
  EXPECT_EQ(ProblemStatus([&] {
              Do([&](Account& a) { return a.Bonus("offer:c-1:o-1", 50, "app", {}, now_ - 366 * kDay); });
            }, &code), 422);
  EXPECT_EQ(code, "outside_claim_window");

  EXPECT_EQ(earn_at(now_ - 365 * kDay, "o-last-day")["points"], 100);  // the window's last day still earns
  EXPECT_EQ(Do([&](Account& a) { return a.Bonus("offer:c-1:o-1", 50, "app", {}, now_ - kDay); })["points"], 50);
}

TEST_F(AccountTest, RedemptionsOlderThanTheReversalWindowCannotBeCancelled) {
  Earn(10, "o-1");
  Do([&](Account& a) { return a.Redeem("r-1", 100, "", "", "web"); });
  const auto record = last_records_.redemptions.at("r-1");
  now_ += 31 * kDay;  // the test program's window is 30 days
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.ReverseRedemption("v", "r-1", "late", record); }); }, &code),
            422);
  EXPECT_EQ(code, "outside_reversal_window");
  EXPECT_EQ(state_.Available(), 0);
}

TEST_F(AccountTest, RecordsAreDatedSoTheSweepCanRemoveThemAfterTheRetention) {
  // A day past the longer window (claim 365 days, reversals 30).
  ASSERT_EQ(rules_.RecordRetentionMs(), 366 * kDay);
  EXPECT_EQ(state_.records_since, 0);  // enrolled, no record: nothing for the sweep
  EXPECT_FALSE(Account(state_, rules_, now_).NextDue().has_value());

  Do([&](Account& a) { return a.Earn({"o-1", "web", "", "USD", 1000, {}}, now_ - 10 * kDay); });
  EXPECT_EQ(state_.records_since, now_ - 10 * kDay);  // an order is dated by its purchase
  now_ += kDay;
  Do([&](Account& a) { return a.Redeem("r-1", 10, "", "", "web"); });
  EXPECT_EQ(state_.records_since, now_ - 11 * kDay);  // the oldest record's instant stays
  {
    Account a(state_, rules_, now_);
    EXPECT_EQ(a.RecordsPruneDue(), now_ - 11 * kDay + 366 * kDay);
    EXPECT_LE(a.NextDue().value(), *a.RecordsPruneDue());
    EXPECT_FALSE(a.RecordsExpiredBefore().has_value());  // not due yet
  }
  {
    const int64_t due = now_ - 11 * kDay + 366 * kDay;
    Account a(state_, rules_, due);
    EXPECT_EQ(a.RecordsExpiredBefore(), due - 366 * kDay);
  }
  // What the sweep's pruning reports becomes the new instant, unless this change writes an
  // older record itself.
  Do([&](Account& a) {
    a.RecordsPruned(now_ - kDay);
    return 0;
  });
  EXPECT_EQ(state_.records_since, now_ - kDay);
  Do([&](Account& a) {
    a.Redeem("r-2", 10, "", "", "web");
    a.RecordsPruned(std::nullopt);
    return 0;
  });
  EXPECT_EQ(state_.records_since, now_);
  Do([&](Account& a) {
    a.RecordsPruned(std::nullopt);
    return 0;
  });
  EXPECT_EQ(state_.records_since, 0);
  // The instant survives the state's round trip; a state written before it was kept reads as
  // the enrolment, so the sweep looks at its records a retention after it.
  state_.records_since = 12345;
  EXPECT_EQ(MemberState::FromJson(state_.ToJson()).records_since, 12345);
  const std::string v1 =
      R"({"ch":"web","enr":77,"lc":0,"life":0,"loc":"en","lots":[],"m":"m-3","q":{},"seq":1,"tier":"member","tz":"UTC","v":1})";
  EXPECT_EQ(MemberState::FromJson(v1).records_since, 77);
}

TEST_F(AccountTest, CancellingARedemptionGivesThePointsBack) {
  Earn(10, "o-1");
  Do([&](Account& a) { return a.Redeem("r-1", 100, "", "", "web"); });
  auto record = last_records_.redemptions.at("r-1");
  auto body = Do([&](Account& a) { return a.ReverseRedemption("v1", "r-1", "order cancelled", record); });
  EXPECT_EQ(body["points"], 100);
  EXPECT_EQ(state_.Available(), 100);
  record = last_records_.redemptions.at("r-1");
  std::string code;
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.ReverseRedemption("v2", "r-1", "again", record); }); }, &code), 409);
  EXPECT_EQ(code, "already_reversed");
}

TEST_F(AccountTest, PointsGivenBackAfterTheirLotExpiredExpireAtOnce) {
  Earn(10, "o-1");
  now_ += 80 * kDay;  // the lot expires 20 days after the redemption, within the reversal window
  Do([&](Account& a) { return a.Redeem("r-1", 100, "", "", "web"); });
  auto record = last_records_.redemptions.at("r-1");
  now_ += 21 * kDay;
  Do([&](Account& a) { return a.ReverseRedemption("v1", "r-1", "late cancel", record); });
  EXPECT_EQ(Types(), (std::vector<std::string>{"points.reversed", "points.expired"}));
  EXPECT_EQ(state_.Available(), 0);
}

TEST_F(AccountTest, AdjustmentsCreditAndDebit) {
  Do([&](Account& a) { return a.Adjust("a-1", 300, "goodwill", "sorry", "agent-1"); });
  EXPECT_EQ(state_.Available(), 300);
  Do([&](Account& a) { return a.Adjust("a-2", -100, "correction", "double credit", "agent-1"); });
  EXPECT_EQ(state_.Available(), 200);
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.Adjust("a-3", -500, "correction", "x", "agent-1"); }); }), 409);
}

TEST_F(AccountTest, EverySequenceStepIsOneChangeAndTheLedgerBalances) {
  int64_t ledger_sum = 0;
  int64_t expected_seq = state_.seq + 1;
  auto track = [&] {
    for (const auto& c : last_changes_) {
      EXPECT_EQ(c.seq, expected_seq++);
      ledger_sum += c.points;
      EXPECT_EQ(c.total_after, ledger_sum);
    }
  };
  Earn(50, "o-1"); track();
  Do([&](Account& a) { return a.Hold("h", 100, "store", "", 60); }); track();
  Do([&](Account& a) { return a.Redeem("r", 100, "", "", "web"); }); track();
  now_ += 61'000; Settle(); track();
  Do([&](Account& a) { return a.Adjust("a", 25, "goodwill", "x", "agent"); }); track();
  now_ += 200 * kDay; Settle(); track();
  EXPECT_EQ(ledger_sum, state_.Total());
}

class PendingAccountTest : public AccountTest {
 protected:
  PendingAccountTest() : AccountTest(7) {}
};

TEST_F(PendingAccountTest, EarnedPointsArePendingUntilTheyVest) {
  auto body = Earn(10, "o-1");
  EXPECT_EQ(body["status"], "pending");
  EXPECT_EQ(state_.Pending(), 100);
  EXPECT_EQ(state_.Available(), 0);
  EXPECT_EQ(ProblemStatus([&] { Do([&](Account& a) { return a.Redeem("r", 1, "", "", "web"); }); }), 409);
  now_ += 7 * kDay;
  Settle();
  EXPECT_EQ(state_.Pending(), 0);
  EXPECT_EQ(state_.Available(), 100);
}

TEST_F(PendingAccountTest, RefundBeforeVestingTakesThePendingPoints) {
  Earn(10, "o-1");
  auto order = last_records_.orders.at("o-1");
  Do([&](Account& a) { return a.ReverseRefund("v", "o-1", 1000, "returned", order); });
  EXPECT_EQ(state_.Pending(), 0);
  EXPECT_EQ(state_.Available(), 0);
  EXPECT_EQ(state_.debt, 0);
}

TEST(MemberState, RoundTripsThroughJson) {
  MemberState s;
  s.seq = 7;
  s.member_id = "m-1";
  s.tier = "gold";
  s.lots.push_back({"lot-1", 10, 5, 0, true, "o-1"});
  s.holds.push_back({"h-1", 3, 9, 1, "store", "s-1", {{"lot-1", 3, 5}}});
  s.held = 3;
  s.debt = 4;
  s.profile = {{"name", "Zoë \"Z\""}};
  s.qualifying_days[20000] = 10;
  s.qualifying_days[20001] = 2;
  const std::string text = s.ToJson();
  EXPECT_EQ(nlohmann::json::parse(text).dump(), text);  // valid JSON, keys in order, no spaces
  MemberState back = MemberState::FromJson(text);
  EXPECT_EQ(back.ToJson(), text);
  EXPECT_EQ(back.holds.at(0).allocations.at(0).points, 3);
  EXPECT_EQ(back.debt, 4);
  EXPECT_EQ(back.profile["name"], "Zoë \"Z\"");
  EXPECT_THROW(MemberState::FromJson("{}"), std::runtime_error);

  // Fields at their default are left out and read back as their default.
  MemberState plain;
  plain.member_id = "m-2";
  const nlohmann::json j = nlohmann::json::parse(plain.ToJson());
  for (const char* absent : {"debt", "held", "holds", "prof"}) EXPECT_FALSE(j.contains(absent)) << absent;
  const MemberState plain_back = MemberState::FromJson(plain.ToJson());
  EXPECT_EQ(plain_back.debt, 0);
  EXPECT_TRUE(plain_back.holds.empty());
  EXPECT_EQ(plain_back.profile, nlohmann::json::object());
  // The state as written before (every field present) still reads.
  const std::string before =
      R"({"ch":"web","debt":0,"enr":1,"held":0,"holds":[],"lc":0,"life":0,"loc":"en","lots":[],"m":"m-3",)"
      R"("prof":{},"q":{},"seq":1,"tier":"member","tz":"UTC","v":1})";
  EXPECT_EQ(MemberState::FromJson(before).member_id, "m-3");
}

}  // namespace
}  // namespace tessera::rewards
