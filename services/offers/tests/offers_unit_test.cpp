// Pure offer logic: the JsonLogic subset against jsonlogic.com's published examples, campaign
// validation, deterministic ranking, the holdout hash and quotes.
#include <gtest/gtest.h>

#include "campaign.h"
#include "jsonlogic.h"
#include "listing_cache.h"
#include "member_features.h"
#include "quote.h"
#include "ranking.h"
#include "tessera/clock.h"
#include "tessera/crypto.h"
#include "tessera/errors.h"
#include "tessera/json_text.h"

namespace tessera::offers {
namespace {

using json = nlohmann::json;

bool Eval(const json& rule, const json& data = json::object()) {
  return Rule::Compile(rule).Matches([&](const FeatureRef& f) {
    return data.contains(f.name) ? RuleValue::FromJson(data[f.name]) : RuleValue::Null();
  });
}

// Examples from https://jsonlogic.com/operations.html, within the supported operators.
TEST(JsonLogic, PublishedSemantics) {
  EXPECT_TRUE(Eval(json::parse(R"({"==":[1,1]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"!=":[1,2]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"and":[true,true]})")));
  EXPECT_FALSE(Eval(json::parse(R"({"and":[true,false]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"or":[false,true]})")));
  EXPECT_FALSE(Eval(json::parse(R"({"!":[true]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"!":false})")));  // unary sugar
  EXPECT_TRUE(Eval(json::parse(R"({">":[2,1]})")));
  EXPECT_TRUE(Eval(json::parse(R"({">=":[1,1]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"<":[1,2]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"<=":[1,1]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"<":[1,2,3]})")));   // between, exclusive
  EXPECT_FALSE(Eval(json::parse(R"({"<":[1,1,3]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"<=":[1,1,3]})")));  // between, inclusive
  EXPECT_TRUE(Eval(json::parse(R"({"in":["Spring",["Spring","Summer"]]})")));
  EXPECT_TRUE(Eval(json::parse(R"({"in":["Spring","Springfield"]})")));  // substring
  EXPECT_FALSE(Eval(json::parse(R"({"in":["Winter",["Spring","Summer"]]})")));
}

TEST(JsonLogic, VariablesReadMemberFeatures) {
  json gold = {{"tier", "gold"}, {"lifetime_points", 25000}, {"category.electronics", 3}};
  EXPECT_TRUE(Eval(json::parse(R"({"==":[{"var":"tier"},"gold"]})"), gold));
  EXPECT_TRUE(Eval(json::parse(R"({"and":[{"in":[{"var":"tier"},["gold","silver"]]},{">=":[{"var":"lifetime_points"},20000]}]})"), gold));
  EXPECT_TRUE(Eval(json::parse(R"({">":[{"var":"category.electronics"},2]})"), gold));
  EXPECT_TRUE(Eval(json::parse(R"({"==":[{"var":["tier"]},"gold"]})"), gold));
  // A feature the member lacks matches nothing, not even !=.
  EXPECT_FALSE(Eval(json::parse(R"({"==":[{"var":"persona"},"analytical"]})"), gold));
  EXPECT_FALSE(Eval(json::parse(R"({"!=":[{"var":"persona"},"analytical"]})"), gold));
  EXPECT_TRUE(Eval(json::parse(R"({"!":{"==":[{"var":"persona"},"analytical"]}})"), gold));
  EXPECT_EQ(Rule::Compile(json::parse(R"({"and":[{"==":[{"var":"tier"},"gold"]},{">":[{"var":"purchases_90d"},1]}]})")).variables(),
            (std::set<std::string>{"purchases_90d", "tier"}));
}

TEST(JsonLogic, BadRulesAreRejectedAtWriteTimeNamingThePart) {
  auto error = [](const char* text) {
    try {
      Rule::Compile(json::parse(text));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error(R"({"==":[{"var":"tire"},"gold"]})"), "/==/0/var: unknown feature 'tire'");
  EXPECT_EQ(error(R"({">":[{"var":"tier"},3]})"), "/>/0: > compares numbers, not a string");
  EXPECT_EQ(error(R"({"==":[{"var":"lifetime_points"},"lots"]})"), "/==: compares a number with a string");
  EXPECT_EQ(error(R"({"and":[{"var":"tier"}]})"), "/and/0: and combines conditions, not a string");
  EXPECT_EQ(error(R"({"if":[true,1,2]})"), "/if: unsupported operator 'if' (use and, or, !, ==, !=, <, <=, >, >=, in, var)");
  EXPECT_EQ(error(R"({"var":"tier"})"), "/: an audience rule must be a condition, not a string");
  EXPECT_EQ(error(R"({">":[1,2,3]})"), "/>: > takes 2 arguments");
  EXPECT_EQ(error(R"({"in":[{"var":"tier"},["gold",2]]})"), "/in/1: the array must hold values of the same type as the first argument");
  EXPECT_EQ(error(R"({"==":[1,1],"!=":[1,2]})"), "/: an operation is an object with exactly one operator");
}

json CampaignBody() {
  return json::parse(R"({
    "campaign_id": "c-1", "name": "Double points on electronics",
    "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z",
    "channels": ["web", "app", "store"],
    "audience": {">=": [{"var": "category.electronics"}, 1]},
    "reward": {"type": "points_multiplier", "factor": 2, "categories": ["electronics"]},
    "conditions": {"min_spend_minor": 5000, "categories": ["electronics"], "requires_activation": true},
    "limits": {"per_member": 1, "total_redemptions": 1000},
    "priority": 3, "holdout_percent": 10,
    "content": {"en": {"title": "2x points", "description": "On electronics"}, "ja": {"title": "ポイント2倍", "description": "家電が対象"}}
  })");
}

std::string ValidationField(const json& body) {
  try {
    ParseCampaign(body);
  } catch (const ProblemError& e) {
    return e.problem().field;
  }
  return "accepted";
}

TEST(Campaign, ValidatesEveryPart) {
  Campaign c = ParseCampaign(CampaignBody());
  EXPECT_EQ(c.reward.factor_hundredths, 200);
  EXPECT_EQ(c.ContentFor("ja").title, "ポイント2倍");
  EXPECT_EQ(c.ContentFor("ja-JP").title, "ポイント2倍");
  EXPECT_EQ(c.ContentFor("th").title, "2x points") << "falls back to English";
  auto with = [](const std::function<void(json&)>& f) {
    json b = CampaignBody();
    f(b);
    return b;
  };
  EXPECT_EQ(ValidationField(with([](json& b) { b["ends_at"] = "2025-01-01T00:00:00Z"; })), "/ends_at");
  EXPECT_EQ(ValidationField(with([](json& b) { b["channels"] = {"fax"}; })), "/channels");
  EXPECT_EQ(ValidationField(with([](json& b) { b["reward"] = {{"type", "bonus_points"}}; })), "/reward/points");
  EXPECT_EQ(ValidationField(with([](json& b) { b["reward"] = {{"type", "bonus_points"}, {"points", 5}, {"percent", 3}}; })), "/reward/percent");
  EXPECT_EQ(ValidationField(with([](json& b) { b["reward"] = {{"type", "percent_off"}, {"percent", 101}}; })), "/reward/percent");
  EXPECT_EQ(ValidationField(with([](json& b) { b["reward"]["factor"] = 1; })), "/reward/factor");
  EXPECT_EQ(ValidationField(with([](json& b) { b["audience"] = json::parse(R"({"==":[{"var":"tire"},"gold"]})"); })), "/audience/==/0/var");
  EXPECT_EQ(ValidationField(with([](json& b) { b["content"].erase("en"); })), "/content/en");
  EXPECT_EQ(ValidationField(with([](json& b) { b["holdout_percent"] = 101; })), "/holdout_percent");
  EXPECT_EQ(ValidationField(with([](json& b) { b["status"] = "active"; })), "/status");
  EXPECT_EQ(ValidationField(with([](json& b) { b["limits"]["per_member"] = 0; })), "/limits/per_member");
  // All five reward types parse.
  for (const char* r : {R"({"type":"bonus_points","points":100})", R"({"type":"points_multiplier","factor":1.5})",
                        R"({"type":"percent_off","percent":10,"max_minor":2000})", R"({"type":"amount_off","amount_minor":500})",
                        R"({"type":"free_item","sku":"coffee"})"}) {
    EXPECT_EQ(ValidationField(with([&](json& b) { b["reward"] = json::parse(r); })), "accepted") << r;
  }
}

TEST(Campaign, PreRenderedOfferPiecesEqualTheJsonRendering) {
  json b = CampaignBody();
  b["content"]["ja"] = {{"title", "ポイント \"2倍\""}, {"description", "line\nbreak"}};
  Campaign c = ParseCampaign(b);
  c.PrepareForServing();
  const std::vector<std::string> reasons = {"Buys electronics", "2x points"};
  for (const std::string locale : {"en", "ja", "ja-JP", "fr"}) {
    const Content& text = c.ContentFor(locale);
    const json expected = {{"offer_id", c.campaign_id},
                           {"campaign_id", c.campaign_id},
                           {"campaign_version", c.version},
                           {"title", text.title},
                           {"description", text.description},
                           {"reward", c.reward.ToJson()},
                           {"requires_activation", c.conditions.requires_activation},
                           {"state", "activated"},
                           {"ends_at", FormatRfc3339(FromUnixMillis(c.ends_ms))},
                           {"score", 1012000200},
                           {"reasons", reasons}};
    const auto& p = c.offer_pieces.at(c.ContentLocaleFor(locale));
    std::string out = p.head;
    AppendJsonStrings(out, reasons);
    out += p.middle + "1012000200,\"state\":\"activated\"" + p.tail;
    EXPECT_EQ(out, expected.dump()) << locale;
  }
}

TEST(Campaign, Lifecycle) {
  EXPECT_EQ(NextStatus("draft", "publish"), "active");
  EXPECT_EQ(NextStatus("active", "pause"), "paused");
  EXPECT_EQ(NextStatus("paused", "publish"), "active");
  EXPECT_EQ(NextStatus("paused", "end"), "ended");
  EXPECT_EQ(NextStatus("ended", "archive"), "archived");
  EXPECT_FALSE(NextStatus("ended", "publish"));
  EXPECT_FALSE(NextStatus("draft", "pause"));
  EXPECT_FALSE(NextStatus("active", "archive"));
}

constexpr int64_t kNow = 1'795'329'804'000;

std::shared_ptr<const Campaign> Make(const std::string& id, int priority, const json& audience, int64_t bonus,
                                     std::set<std::string> channels = {"web", "app", "store"}) {
  json b = CampaignBody();
  b["campaign_id"] = id;
  b["priority"] = priority;
  b["holdout_percent"] = 0;
  b["channels"] = channels;
  b["reward"] = {{"type", "bonus_points"}, {"points", bonus}};
  if (audience.is_null()) b.erase("audience");
  else b["audience"] = audience;
  Campaign c = ParseCampaign(b);
  c.status = "active";
  return std::make_shared<const Campaign>(c);
}

TEST(Ranking, DeterministicAndTheSameOnEveryChannel) {
  MemberFeatures f;
  f.known = true;
  f.tier = "gold";
  f.categories["electronics"] = 2;
  const json gold = json::parse(R"({"==":[{"var":"tier"},"gold"]})");
  std::vector<std::shared_ptr<const Campaign>> cs = {
      Make("c-b", 1, nullptr, 100), Make("c-a", 1, nullptr, 100), Make("c-gold", 1, gold, 50),
      Make("c-top", 5, nullptr, 10), Make("c-silver", 9, json::parse(R"({"==":[{"var":"tier"},"silver"]})"), 999),
      Make("c-webonly", 1, nullptr, 300, {"web"})};
  auto ids = [&](const std::string& channel) {
    std::vector<std::string> out;
    for (const auto& o : Rank(cs, &f, {}, "m-1", channel, kNow).offers) out.push_back(o.campaign->campaign_id);
    return out;
  };
  // Priority first, then fit (the targeted c-gold), then value, then id.
  EXPECT_EQ(ids("app"), (std::vector<std::string>{"c-top", "c-gold", "c-a", "c-b"}));
  EXPECT_EQ(ids("store"), ids("app"));
  EXPECT_EQ(ids("web"), (std::vector<std::string>{"c-top", "c-gold", "c-webonly", "c-a", "c-b"}));
  // Prepared for serving (as the campaign cache does), channels are matched by bits: same answer.
  const auto unprepared = cs;
  for (auto& c : cs) {
    auto prepared = std::make_shared<Campaign>(*c);
    prepared->PrepareForServing();
    EXPECT_TRUE(prepared->serving.prepared);
    c = prepared;
  }
  EXPECT_EQ(ids("web"), (std::vector<std::string>{"c-top", "c-gold", "c-webonly", "c-a", "c-b"}));
  EXPECT_EQ(ids("app"), (std::vector<std::string>{"c-top", "c-gold", "c-a", "c-b"}));
  EXPECT_TRUE(ids("kiosk").empty());
  cs = unprepared;
  EXPECT_TRUE(ids("kiosk").empty());
  auto shuffled = cs;
  std::reverse(shuffled.begin(), shuffled.end());
  auto again = Rank(shuffled, &f, {}, "m-1", "app", kNow);
  EXPECT_EQ(again.offers.front().campaign->campaign_id, "c-top");
  EXPECT_TRUE(again.personalized);
  auto gold_offer = std::find_if(again.offers.begin(), again.offers.end(), [](const auto& o) { return o.campaign->campaign_id == "c-gold"; });
  EXPECT_NE(std::find(gold_offer->reasons.begin(), gold_offer->reasons.end(), "Picked for gold members"),
            gold_offer->reasons.end());
}

TEST(Ranking, TheControlGroupCountedIsTheMembersInTheAudience) {
  auto targeted = std::make_shared<Campaign>(*Make("c-gold", 0, json::parse(R"({"==":[{"var":"tier"},"gold"]})"), 10));
  targeted->holdout_percent = 100;  // every member is a control
  const std::vector<std::shared_ptr<const Campaign>> cs = {targeted};
  MemberFeatures gold;
  gold.known = true;
  gold.tier = "gold";
  MemberFeatures silver = gold;
  silver.tier = "silver";
  const RankResult in_audience = Rank(cs, &gold, {}, "m-1", "web", kNow);
  EXPECT_TRUE(in_audience.offers.empty());
  EXPECT_EQ(in_audience.holdout, std::vector<std::string>{"c-gold"});
  const RankResult outside = Rank(cs, &silver, {}, "m-1", "web", kNow);
  EXPECT_TRUE(outside.offers.empty());
  EXPECT_TRUE(outside.holdout.empty());  // would not have been offered it: not a control
}

TEST(Ranking, FailsOpenWithoutFeatures) {
  std::vector<std::shared_ptr<const Campaign>> cs = {Make("c-open", 0, nullptr, 10),
                                                     Make("c-gold", 0, json::parse(R"({"==":[{"var":"tier"},"gold"]})"), 10)};
  auto r = Rank(cs, nullptr, {}, "m-1", "web", kNow);
  EXPECT_FALSE(r.personalized);
  ASSERT_EQ(r.offers.size(), 1u);
  EXPECT_EQ(r.offers[0].campaign->campaign_id, "c-open");
}

TEST(MemberFeatures, TheViewShowsWhatAudienceRulesSee) {
  MemberFeatures f;
  f.known = true;
  f.tier = "gold";
  f.lifetime_points = 25000;
  f.enrolled_ms = kNow - 40 * kDayMs - 5;
  f.purchases = {{kNow - 10 * kDayMs, 4500}, {kNow - 91 * kDayMs, 9900}, {kNow - kDayMs, 500}};
  f.categories = {{"shoes", 2}};
  const json v = f.View("m-1", kNow);
  EXPECT_EQ(v["tier"], "gold");
  EXPECT_TRUE(v["lifetime_points"].is_number_integer());
  EXPECT_EQ(v["lifetime_points"], 25000);
  EXPECT_EQ(v["days_since_enrolled"], 40);
  EXPECT_TRUE(v["days_since_last_purchase"].is_null());  // no last purchase recorded
  EXPECT_EQ(v["purchases_90d"], 2);                        // the 91-day-old one is out
  EXPECT_EQ(v["spend_90d_minor"], 5000);
  EXPECT_TRUE(v["persona"].is_null());
  EXPECT_EQ(v["category"]["shoes"], 2);
  EXPECT_TRUE(MemberFeatures{}.View("m-2", kNow)["lifetime_points"].is_null());  // unknown member
}

TEST(Holdout, StableHashWithTestVectors) {
  // bucket = first 8 bytes of SHA-256("<campaign>:<member>") as big-endian uint64, mod 10000.
  // Reproduce in Python: int.from_bytes(hashlib.sha256(b"summer-2026:m-1001").digest()[:8], "big") % 10000
  EXPECT_EQ(HoldoutBucket("c-1", "m-1"), HoldoutBucket("c-1", "m-1"));
  EXPECT_EQ(HoldoutBucket("summer-2026", "m-1001"), 3975u);
  EXPECT_EQ(HoldoutBucket("summer-2026", "m-1002"), 5663u);
  EXPECT_EQ(HoldoutBucket("c-1", "m-1"), 8069u);
}

TEST(Holdout, WithinTwoPointsOfThePercentOverTenThousandMembers) {
  for (int percent : {5, 10, 25, 50}) {
    json b = CampaignBody();
    b["holdout_percent"] = percent;
    Campaign c = ParseCampaign(b);
    int control = 0;
    for (int i = 0; i < 10000; ++i) control += InHoldout(c, "m-" + std::to_string(i)) ? 1 : 0;
    EXPECT_NEAR(control / 100.0, percent, 2.0) << percent;
  }
}

TEST(Quote, SignedVerifiedTamperedAndExpired) {
  Quote q{"m-1", {{"c-1", 3}, {"c-2", 1}}, "7.2", kNow, kNow + 900'000};
  const std::string token = SignQuote(q, "secret");
  std::string why;
  auto back = VerifyQuote(token, "secret", kNow + 1000, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->VersionOf("c-1"), 3);
  EXPECT_EQ(back->watermark, "7.2");
  // The payload is the JSON object other languages can rebuild: keys sorted, no spaces.
  const json payload = {{"m", "m-1"},
                        {"c", json::array({json::array({"c-1", 3}), json::array({"c-2", 1})})},
                        {"w", "7.2"},
                        {"iat", kNow},
                        {"exp", kNow + 900'000}};
  EXPECT_EQ(Base64UrlDecode(token.substr(3, token.rfind('.') - 3)).value_or(""), payload.dump());
  EXPECT_FALSE(VerifyQuote(token, "other-secret", kNow, &why));
  EXPECT_EQ(why, "signature does not match");
  std::string tampered = token;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyQuote(tampered, "secret", kNow, &why));
  EXPECT_FALSE(VerifyQuote(token, "secret", kNow + 900'000, &why));
  EXPECT_EQ(why, "quote expired");
  EXPECT_FALSE(VerifyQuote("garbage", "secret", kNow, &why));
}

TEST(MemberFeatures, NextChangeIsTheFirstInstantATimeBasedValueMoves) {
  const int64_t now = 1'790'000'000'000;
  MemberFeatures f;
  EXPECT_EQ(f.NextChangeMs(now), INT64_MAX) << "nothing known, nothing moves";
  f.known = true;
  f.enrolled_ms = now - 3 * kDayMs - 1000;           // days_since_enrolled 3 -> 4 in a day less 1 s
  f.last_purchase_ms = now - 10 * kDayMs - 5000;     // 10 -> 11 in a day less 5 s
  f.purchases = {{now - 89 * kDayMs - 7000, 100}};   // leaves the 90-day window
  EXPECT_EQ(f.NextChangeMs(now), now + kDayMs - 7000 + 1);
  f.purchases.clear();
  EXPECT_EQ(f.NextChangeMs(now), now + kDayMs - 5000);
  // Check against the values rules see: nothing changes just before, something at the instant.
  const std::string channel = "web";
  auto values = [&](int64_t t) {
    const FeatureView v(f, channel, t);
    return std::vector<double>{v.Get(ResolveFeature("days_since_enrolled")).number,
                               v.Get(ResolveFeature("days_since_last_purchase")).number,
                               v.Get(ResolveFeature("purchases_90d")).number};
  };
  f.purchases = {{now - 89 * kDayMs - 7000, 100}};
  const int64_t next = f.NextChangeMs(now);
  EXPECT_EQ(values(now), values(next - 1));
  EXPECT_NE(values(now), values(next));
}

std::shared_ptr<const CachedListing> Listing(const std::string& variant, uint64_t generation, int64_t until,
                                             size_t tail_bytes = 100) {
  auto l = std::make_shared<CachedListing>();
  l->variant = variant;
  l->campaigns_generation = generation;
  l->valid_until_ms = until;
  l->tail = std::string(tail_bytes, 'x');
  return l;
}

TEST(ListingCache, ServesAnEntryOnlyForItsVariantCampaignsAndTimeWindow) {
  ListingCache cache(64 << 20);
  auto t = cache.Begin("m-1");
  ASSERT_TRUE(cache.Fill("m-1", t, Listing("web|10|", 7, 5000)));
  EXPECT_NE(cache.Find("m-1", "web|10|", 7, 4999), nullptr);
  EXPECT_EQ(cache.Find("m-1", "web|10|", 7, 5000), nullptr) << "valid_until is exclusive";
  EXPECT_EQ(cache.Find("m-1", "web|10|", 8, 1000), nullptr) << "another campaign snapshot";
  EXPECT_EQ(cache.Find("m-1", "app|10|", 7, 1000), nullptr) << "another channel";
  EXPECT_EQ(cache.Find("m-2", "web|10|", 7, 1000), nullptr);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 4u);
}

TEST(ListingCache, AnInvalidationBetweenTheReadAndTheFillKeepsTheOldValueOut) {
  ListingCache cache(64 << 20);
  auto t = cache.Begin("m-1");  // before reading the member's state
  cache.Invalidate("m-1");      // the state changed meanwhile
  EXPECT_FALSE(cache.Fill("m-1", t, Listing("web|10|", 1, 5000)));
  EXPECT_EQ(cache.Find("m-1", "web|10|", 1, 0), nullptr);
  // Clear (lost invalidations) refuses every fill begun before it.
  auto t2 = cache.Begin("m-1");
  cache.Clear();
  EXPECT_FALSE(cache.Fill("m-1", t2, Listing("web|10|", 1, 5000)));
  // A fill begun after the change is kept, and dropped by the next change.
  auto t3 = cache.Begin("m-1");
  EXPECT_TRUE(cache.Fill("m-1", t3, Listing("web|10|", 1, 5000)));
  EXPECT_NE(cache.Find("m-1", "web|10|", 1, 0), nullptr);
  cache.Invalidate("m-1");
  EXPECT_EQ(cache.Find("m-1", "web|10|", 1, 0), nullptr);
  EXPECT_EQ(cache.members(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ListingCache, MemoryStaysWithinItsBudgetLeastRecentlyUsedFirst) {
  const size_t budget = 64 * 4096;  // 4 KiB a shard
  ListingCache cache(budget);
  for (int i = 0; i < 2000; ++i) {
    const std::string m = "m-" + std::to_string(i);
    cache.Fill(m, cache.Begin(m), Listing("web|10|", 1, 5000, 1000));
    cache.Find("m-0", "web|10|", 1, 0);  // m-0 stays in use
  }
  EXPECT_LE(cache.bytes(), budget);
  EXPECT_GT(cache.members(), 64u);
  EXPECT_NE(cache.Find("m-0", "web|10|", 1, 0), nullptr) << "the member in use is kept";
  EXPECT_EQ(cache.Find("m-1", "web|10|", 1, 0), nullptr) << "an old, unused member went first";
  // Variants of one member replace each other beyond eight; the same variant is replaced.
  ListingCache big(64 << 20);
  for (int v = 0; v < 20; ++v) big.Fill("m-1", big.Begin("m-1"), Listing("web|" + std::to_string(v) + "|", 1, 5000));
  big.Fill("m-1", big.Begin("m-1"), Listing("web|19|", 2, 5000));
  EXPECT_NE(big.Find("m-1", "web|19|", 2, 0), nullptr);
  EXPECT_EQ(big.Find("m-1", "web|0|", 1, 0), nullptr);
  EXPECT_LE(big.bytes(), 8 * (Listing("web|19|", 1, 5000)->Bytes() + 200));
  // An entry larger than a shard's budget is refused, not stored over budget.
  EXPECT_FALSE(cache.Fill("m-x", cache.Begin("m-x"), Listing("web|10|", 1, 5000, 8000)));
}

}  // namespace
}  // namespace tessera::offers
