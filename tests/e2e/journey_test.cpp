// The omnichannel journey of one member across web, app and store, through all three
// services, checked against the product's promise and the contracts in schemas/.
#include <gtest/gtest.h>

#include "e2e.h"

namespace tessera::e2e {
namespace {

TEST(Journey, OneMemberAcrossWebAppAndStore) {
  Stack stack;
  auto rewards = stack.Client("rewards");
  auto offers = stack.Client("offers");
  auto notifications = stack.Client("notifications");
  std::vector<json> problems;
  auto account = [&] { return rewards.Get("/v1/members/m-42", As("pos")).Json(); };
  auto inbox = [&] { return notifications.Get("/v1/members/m-42/inbox?limit=100", As("storefront")).Json()["notifications"]; };

  // 1. Enrols on the web: a welcome message in the inbox, in the member's locale.
  auto enrolled = rewards.Request("POST", "/v1/members",
                                  R"({"member_id":"m-42","channel":"web","locale":"ja","time_zone":"Asia/Tokyo","profile":{"name":"由紀","persona":"analytical"}})",
                                  As("storefront"));
  ASSERT_EQ(enrolled.status, 201) << enrolled.body;
  ASSERT_TRUE(WaitFor([&] { return inbox().size() == 1; }, std::chrono::seconds(30)));
  EXPECT_EQ(inbox()[0]["subject"], "由紀様、Tessera Rewardsへようこそ");

  // 2. Buys in a store: the POS publishes purchase.completed; points are earned; a receipt.
  stack.Publish("purchase.completed", "m-42",
                {{"order_id", "store-order-1"}, {"channel", "store"}, {"store_id", "store-12"},
                 {"occurred_at", FormatRfc3339(SystemClock().Now())}, {"currency", "USD"}, {"total_minor", 60000},
                 {"items", {{{"sku", "tv-55"}, {"category", "electronics"}, {"amount_minor", 50000}, {"quantity", 1}},
                            {{"sku", "hdmi"}, {"category", "accessories"}, {"amount_minor", 10000}, {"quantity", 1}}}}});
  ASSERT_TRUE(WaitFor([&] { return account()["points"]["lifetime"] == 11000; }, std::chrono::seconds(30)))
      << account().dump();  // 500 x 10 x 2 (electronics) + 100 x 10 = 11 000
  EXPECT_EQ(account()["tier"], "silver");
  ASSERT_TRUE(WaitFor([&] { return inbox().size() >= 3; }, std::chrono::seconds(30)));  // + receipt, + tier change

  // 3. Storefront, app and store list identical offers; the app activates one; the store sees it.
  auto ops = As("ops");
  auto campaign = [](const std::string& id, const json& extra) {
    json c = {{"campaign_id", id}, {"name", id}, {"starts_at", "2026-01-01T00:00:00Z"}, {"ends_at", "2030-01-01T00:00:00Z"},
              {"channels", {"web", "app", "store"}}, {"reward", {{"type", "bonus_points"}, {"points", 300}}},
              {"content", {{"en", {{"title", "300 bonus points"}}}, {"ja", {{"title", "300ボーナスポイント"}}}}}};
    for (auto it = extra.begin(); it != extra.end(); ++it) c[it.key()] = it.value();
    return c.dump();
  };
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns", campaign("electronics-fans", {{"audience", {{">=", {{{"var", "category.electronics"}}, 1}}}},
                                                                                  {"conditions", {{"requires_activation", true}}},
                                                                                  {"limits", {{"per_member", 1}}}, {"priority", 2}}),
                           ops).status,
            201);
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns/electronics-fans/publish", "", ops).status, 200);
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns", campaign("open-to-all", {{"reward", {{"type", "percent_off"}, {"percent", 10}}}}), ops).status, 201);
  ASSERT_EQ(offers.Request("POST", "/v1/campaigns/open-to-all/publish", "", ops).status, 200);
  auto list = [&](const std::string& channel, const Headers& who) {
    return offers.Get("/v1/members/m-42/offers?channel=" + channel, who).Json();
  };
  ASSERT_TRUE(WaitFor([&] { return list("web", As("storefront"))["offers"].size() == 2; }, std::chrono::seconds(30)));
  const Headers app = {{"Authorization", stack.Jwt("m-42")}};
  const json web = list("web", As("storefront")), in_app = list("app", app), store = list("store", As("pos"));
  EXPECT_EQ(web["offers"], in_app["offers"]);
  EXPECT_EQ(in_app["offers"], store["offers"]);
  EXPECT_EQ(web["offers"][0]["offer_id"], "electronics-fans");
  EXPECT_EQ(web["offers"][0]["title"], "300ボーナスポイント");
  EXPECT_TRUE(web["personalized"].get<bool>());
  auto activation = offers.Request("POST", "/v1/members/m-42/offers/electronics-fans/activate", R"({"channel":"app"})", app);
  ASSERT_EQ(activation.status, 201);
  EXPECT_EQ(list("store", As("pos"))["offers"][0]["state"], "activated");

  // 4. The store redeems it with the quote the app received; bonus points arrive.
  const int64_t before_bonus = account()["points"]["available"];
  auto redeemed = offers.Request("POST", "/v1/members/m-42/offers/electronics-fans/redeem",
                                 json({{"order_id", "store-order-2"}, {"channel", "store"}, {"decision_id", in_app["decision_id"]}}).dump(),
                                 As("pos", "offer-redeem-1"));
  ASSERT_EQ(redeemed.status, 201) << redeemed.body;
  ASSERT_TRUE(WaitFor([&] { return account()["points"]["available"] == before_bonus + 300; }, std::chrono::seconds(30)));
  auto again = offers.Request("POST", "/v1/members/m-42/offers/electronics-fans/redeem",
                              json({{"order_id", "store-order-3"}, {"channel", "web"}}).dump(), As("storefront", "offer-redeem-2"));
  EXPECT_EQ(again.status, 409);
  problems.push_back(again.Json());

  // 5. The app redeems points; the store order is refunded in part; points are reversed.
  auto spent = rewards.Request("POST", "/v1/members/m-42/redemptions", R"({"points":2000,"channel":"app","reward_id":"coffee-mug"})",
                               [&] { Headers h = app; h["Idempotency-Key"] = "app-redeem-1"; return h; }());
  ASSERT_EQ(spent.status, 201) << spent.body;
  auto short_of = rewards.Request("POST", "/v1/members/m-42/redemptions", R"({"points":999999,"channel":"app"})",
                                  [&] { Headers h = app; h["Idempotency-Key"] = "app-redeem-2"; return h; }());
  EXPECT_EQ(short_of.status, 409);
  problems.push_back(short_of.Json());
  stack.Publish("purchase.refunded", "m-42", {{"order_id", "store-order-1"}, {"refund_minor", 10000}, {"reason", "returned the HDMI cable"}});
  // A sixth of the order refunded: a sixth of its 11 000 points (1 833) clawed back.
  ASSERT_TRUE(WaitFor([&] { return account()["points"]["lifetime"] == 11000 + 300 - 1833; }, std::chrono::seconds(30)))
      << account().dump();

  // 6. Balances, ledger, audit and member_seq agree; every event validates; no message twice.
  const json final_account = account();
  EXPECT_EQ(final_account["points"]["available"], 11000 + 300 - 2000 - 1833);
  auto audit = rewards.Get("/v1/members/m-42/audit", As("agent")).Json();
  EXPECT_TRUE(audit["consistent"].get<bool>()) << audit.dump();
  // A few reads more, so every route kind appears in the contract check.
  rewards.Get("/v1/members/m-42/ledger?limit=5", As("pos"));
  rewards.Get("/v1/program", As("storefront"));
  offers.Get("/v1/campaigns/electronics-fans", ops);
  offers.Get("/v1/campaigns/electronics-fans/stats", ops);
  offers.Get("/v1/campaigns?status=active", ops);
  offers.Get("/v1/members/m-42/features", As("pos"));
  notifications.Get("/v1/members/m-42/preferences", As("storefront"));
  notifications.Get("/v1/templates/points.earned/ja", As("ops"));
  EXPECT_EQ(audit["ledger_sum"], final_account["points"]["available"].get<int64_t>());
  const int64_t version = final_account["version"];
  auto events = stack.Events(static_cast<size_t>(version));
  std::set<int64_t> seqs;
  std::map<std::string, int> sent_per_notification;
  for (const auto& e : events) {
    if (e["source"] == "tessera-rewards" && e["member_id"] == "m-42") seqs.insert(e["member_seq"].get<int64_t>());
    if (e["type"] == "notification.sent") sent_per_notification[e["payload"]["notification_id"]]++;
  }
  EXPECT_EQ(static_cast<int64_t>(seqs.size()), version);
  EXPECT_EQ(*seqs.rbegin(), version) << "member_seq 1..version without a gap";
  for (const auto& [id, n] : sent_per_notification) EXPECT_EQ(n, 1) << id;
  // welcome, earn receipt, tier change, offer bonus receipt, redemption, reversal (the offer
  // activation is marketing and this member did not opt in).
  ASSERT_TRUE(WaitFor([&] { return inbox().size() == 6; }, std::chrono::seconds(30))) << inbox().dump();
  const auto messages = inbox();
  std::multiset<std::string> types;
  for (const auto& m : messages) types.insert(m["event_type"].get<std::string>());
  EXPECT_EQ(types, (std::multiset<std::string>{"member.enrolled", "points.earned", "points.earned", "tier.changed",
                                                "points.redeemed", "points.reversed"}));
  EXPECT_EQ(messages[0]["subject"], "ポイント残高を更新しました");
  std::set<std::string> ids;
  for (const auto& m : messages) ids.insert(m["notification_id"].get<std::string>());
  EXPECT_EQ(ids.size(), messages.size()) << "no message twice in the inbox";
  auto [rc, out] = stack.Validate("events", events);
  std::cout << "[ contract ] " << events.size() << " events on the four topics: " << out.substr(out.rfind('\n', out.size() - 2) + 1);
  EXPECT_EQ(rc, 0) << out;
  auto [prc, pout] = stack.Validate("problems", problems);
  EXPECT_EQ(prc, 0) << pout;
  auto [rrc, rout] = stack.Validate("responses", stack.responses);
  std::cout << "[ contract ] every HTTP answer of the journey (" << stack.responses.size() << ") against the OpenAPI documents: "
            << rout.substr(rout.rfind('\n', rout.size() - 2) + 1);
  EXPECT_EQ(rrc, 0) << rout;
}

}  // namespace
}  // namespace tessera::e2e
