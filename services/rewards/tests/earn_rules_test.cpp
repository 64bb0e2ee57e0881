#include "earn_rules.h"

#include <gtest/gtest.h>

#include "test_program.h"
#include "tessera/errors.h"

namespace tessera::rewards {
namespace {

Purchase Order(std::vector<PurchaseLine> lines, int64_t total, std::string channel = "web", std::string currency = "USD") {
  return {"o-1", channel, "", currency, total, std::move(lines)};
}

int64_t Sum(const EarnResult& r) {
  int64_t s = 0;
  for (const auto& b : r.breakdown) s += b.points;
  return s;
}

TEST(EarnRules, BaseRatePerMajorUnitRoundedDownOncePerOrder) {
  const auto p = test::TestProgram();
  // $12.34 at 10 points per dollar = 123.4 -> 123.
  auto r = ComputeEarn(p, Order({}, 1234), "member");
  EXPECT_EQ(r.points, 123);
  ASSERT_EQ(r.breakdown.size(), 1u);
  EXPECT_EQ(r.breakdown[0].rule, "base");
  // Two lines of $0.05 each: 0.5 + 0.5 points = 1 point (rounded per order, not per line).
  auto lines = ComputeEarn(p, Order({{"a", "misc", 5, 1}, {"b", "misc", 5, 1}}, 10), "member");
  EXPECT_EQ(lines.points, 1);
}

TEST(EarnRules, CurrencyExponentMatters) {
  const auto p = test::TestProgram();
  EXPECT_EQ(ComputeEarn(p, Order({}, 1500, "web", "JPY"), "member").points, 15000);  // ¥1500 = 1500 major units
}

TEST(EarnRules, CategoryChannelAndTierMultiply) {
  const auto p = test::TestProgram();
  // $100 electronics (x2) + $20 grocery (x0.5) in the app (x1.5) for a gold member (x1.5):
  // base 1200; categories 2000 + 100 = 2100; app 3150; gold 4725.
  auto r = ComputeEarn(p, Order({{"tv", "electronics", 10000, 1}, {"apple", "grocery", 1000, 2}}, 13000, "app"), "gold");
  EXPECT_EQ(r.points, 4725);
  EXPECT_EQ(Sum(r), r.points);
  std::map<std::string, int64_t> by_rule;
  for (const auto& b : r.breakdown) by_rule[b.rule] = b.points;
  EXPECT_EQ(by_rule["base"], 1200);
  EXPECT_EQ(by_rule["category:electronics"], 1000);
  EXPECT_EQ(by_rule["category:grocery"], -100);
  EXPECT_EQ(by_rule["channel:app"], 1050);
  EXPECT_EQ(by_rule["tier:gold"], 1575);
}

TEST(EarnRules, LinesEarnButTheRestOfTheTotalDoesNot) {
  const auto p = test::TestProgram();
  // $50 of items inside a $60 total (tax, shipping): only the items earn.
  EXPECT_EQ(ComputeEarn(p, Order({{"shirt", "apparel", 2500, 2}}, 6000), "member").points, 500);
}

TEST(EarnRules, BreakdownAlwaysSumsToThePoints) {
  const auto p = test::TestProgram();
  for (int64_t cents = 1; cents < 3000; cents += 37) {
    for (const char* tier : {"member", "silver", "gold"}) {
      auto r = ComputeEarn(p, Order({{"a", "electronics", cents, 3}, {"b", "grocery", cents + 1, 1}}, cents * 4 + 1, "app"), tier);
      ASSERT_EQ(Sum(r), r.points) << cents << " " << tier;
      ASSERT_GE(r.points, 0);
    }
  }
}

TEST(Program, ShippedProgramIsValid) {
  ProgramRules p = LoadProgramFile(std::string(TESSERA_SOURCE_DIR) + "/config/program.json");
  EXPECT_EQ(p.tiers.size(), 3u);
  EXPECT_EQ(p.tiers[1].name, "silver");
  EXPECT_EQ(p.channel_multipliers.at("app"), 125);
}

TEST(Program, InvalidFilesNameTheField) {
  auto expect_error = [](const std::string& text, const std::string& needle) {
    try {
      ParseProgram(text, "p.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  nlohmann::json good = nlohmann::json::parse(test::kTestProgramJson);
  auto with = [&](const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json j = good;
    f(j);
    return j.dump();
  };
  expect_error("{", "p.json");
  expect_error(with([](auto& j) { j["tiers"][1]["threshold"] = 0; }), "program.tiers[1].threshold");
  expect_error(with([](auto& j) { j["tiers"][0]["threshold"] = 5; }), "program.tiers[0].threshold");
  expect_error(with([](auto& j) { j["earn"]["channel_multipliers"]["fax"] = 2; }), "program.earn.channel_multipliers.fax");
  expect_error(with([](auto& j) { j["earn"]["category_multipliers"]["x"] = 1.234; }), "category_multipliers.x");
  expect_error(with([](auto& j) { j["earn"]["tier_multipliers"]["platinum"] = 2; }), "tier_multipliers.platinum");
  expect_error(with([](auto& j) { j["expiry"]["warning_days"] = 100; }), "program.expiry.warning_days");
  expect_error(with([](auto& j) { j.erase("goodwill"); }), "program.goodwill");
  expect_error(with([](auto& j) { j["surprise"] = 1; }), "program.surprise");
  expect_error(with([](auto& j) { j["earn"]["currencies"]["EURO"] = 2; }), "currencies.EURO");
}

}  // namespace
}  // namespace tessera::rewards
